import { describe, expect, it } from 'vitest'
import { toHex, type Key } from '../../../src/core/index.js'
import { blockPointer, emptyContent, readBytes, writeRange } from '../../../src/fs/file-data.js'
import { ReadAhead } from '../../../src/fs/read-ahead.js'
import { MapTreeStore } from './helpers.js'

// Read-ahead fetches the next blocks of a sequential stream, and lets go of each once the
// stream has read past it (TreeStore.readPast), never before its last read.

class RecordingStore extends MapTreeStore {
  readonly events: string[] = []

  override async getData (key: Key): Promise<Uint8Array> {
    this.events.push(`get ${toHex(key).slice(0, 8)}`)
    return super.getData(key)
  }

  readPast (key: Key): void {
    this.events.push(`past ${toHex(key).slice(0, 8)}`)
  }
}

const BS = 64

async function file (store: MapTreeStore, blocks: number): ReturnType<typeof writeRange> {
  const bytes = Uint8Array.from({ length: blocks * BS }, (_, i) => (i * 7 + Math.floor(i / BS) * 13 + 1) & 0xff) // no two blocks alike
  return writeRange(store, emptyContent(BS), 0, bytes)
}

describe('ReadAhead', () => {
  it('fetches the first block when a file is opened, and the window then starts after it', async () => {
    const store = new RecordingStore()
    const content = await file(store, 10)
    const key = async (i: number): Promise<string> => toHex(await blockPointer(store, content, i) as Key).slice(0, 8)
    const ahead = new ReadAhead(3)
    ahead.opened(store, content)
    await new Promise((resolve) => setImmediate(resolve))
    expect(store.events).toEqual([`get ${await key(0)}`])
    ahead.after(store, content, 0, BS)
    await new Promise((resolve) => setImmediate(resolve))
    // Blocks 1..3, not block 0 again.
    expect(store.events.slice(1)).toEqual([`get ${await key(1)}`, `get ${await key(2)}`, `get ${await key(3)}`])
    // An empty file, or no read-ahead at all: nothing.
    const none = new RecordingStore()
    new ReadAhead(3).opened(none, emptyContent(BS))
    new ReadAhead(0).opened(none, content)
    await new Promise((resolve) => setImmediate(resolve))
    expect(none.events).toEqual([])
  })

  it('lets go of each block fetched ahead once a sequential stream has read past it, after its last read', async () => {
    const store = new RecordingStore()
    const content = await file(store, 10)
    const ahead = new ReadAhead(3)
    for (let offset = 0; offset < content.size; offset += BS / 4) {
      ahead.after(store, content, offset, BS / 4)
      await new Promise((resolve) => setImmediate(resolve)) // the prefetch runs
      await readBytes(store, content, offset, BS / 4)
    }
    const past = store.events.filter((e) => e.startsWith('past'))
    // Blocks 0..8 were fetched ahead and read past (a first read at 0 counts as sequential);
    // block 9, the last, is never read past.
    expect(past.length).toBe(9)
    expect(new Set(past).size).toBe(9)
    for (const e of past) {
      const key = e.slice(5)
      expect(store.events.lastIndexOf(`get ${key}`)).toBeLessThan(store.events.indexOf(e))
    }
  })

  it('lets go only of what a sequential run read past, and forgets its window when reads jump', async () => {
    const store = new RecordingStore()
    const content = await file(store, 10)
    const ahead = new ReadAhead(3)
    const keys: string[] = []
    for (let i = 0; i < 10; i++) {
      const ptr = await blockPointer(store, content, i)
      keys.push(toHex(ptr as Key).slice(0, 8))
    }
    // A run 0..79 passes block 0; the jumps after it (to 624, 100, 300, 20) start runs that
    // pass nothing they fetched.
    for (const offset of [0, 16, 32, 48, 64, 624, 100, 116, 132, 300, 20]) {
      ahead.after(store, content, offset, 16)
      await new Promise((resolve) => setImmediate(resolve))
      await readBytes(store, content, offset, 16)
    }
    expect(store.events.filter((e) => e.startsWith('past'))).toEqual([`past ${keys[0] as string}`])
  })
})
