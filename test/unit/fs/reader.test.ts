import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BlockInvalidError, RootStaleError, hashKey, isCfsError, keysEqual, toHex } from '../../../src/core/index.js'
import { BlockKind, encodeRoot } from '../../../src/dhash/index.js'
import { JsonFileSeenRoots, Reader, SEEN_ROOTS_FILE, Volume } from '../../../src/fs/index.js'
import { rootRecordCodec } from '../../../src/fs/root-record.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { rejection } from '../../helpers/thrown.js'

const dirs: string[] = []
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'cfs-reader-'))
  dirs.push(d)
  return d
}

/** A volume published three times; returns the signed root bytes of each version. */
async function threeVersions (): Promise<{ blocks: MemoryBlockService, owner: ReturnType<typeof newOwner>, roots: Uint8Array[] }> {
  let clock = 5_000
  const blocks = new MemoryBlockService()
  const owner = newOwner()
  const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier, now: () => clock }, { publishIntervalMs: 0 })
  await vol.start()
  const roots: Uint8Array[] = []
  for (const name of ['one', 'two', 'three']) {
    clock += 1_000
    await vol.mkdir(`/${name}`)
    await vol.sync()
    roots.push(blocks.peek(owner.verifier.rootKey(owner.signer.publicKey))!)
  }
  return { blocks, owner, roots }
}

describe('Reader', () => {
  it('lists versions newest first and reads any of them by sequence number', async () => {
    const { blocks, owner } = await threeVersions()
    const reader = new Reader({ blocks, verifier: owner.verifier })
    const versions = []
    for await (const v of reader.versions(owner.signer.publicKey)) versions.push(v)
    expect(versions.map((v) => [v.seq, v.timeMs])).toEqual([[3, 8_000], [2, 7_000], [1, 6_000]])
    for (const v of versions) {
      // Each root record is also a content block under its own hash.
      const bytes = blocks.peek(v.recordKey)!
      expect(keysEqual(hashKey(bytes), v.recordKey)).toBe(true)
      expect(rootRecordCodec.decode(bytes, 'record').seq).toBe(v.seq)
    }
    const v2 = await reader.version(owner.signer.publicKey, 2)
    const names = []
    for await (const e of v2.readdir('/')) names.push(e.name)
    expect(names).toEqual(['one', 'two'])
    expect(isCfsError(await rejection(reader.version(owner.signer.publicKey, 4)), 'ENTRY_NOT_FOUND')).toBe(true)
  })

  it('refuses a root older than one it has seen, across restarts (persisted atomically)', async () => {
    const { blocks, owner, roots } = await threeVersions()
    const dir = await tempDir()
    const reader = new Reader({ blocks, verifier: owner.verifier, seen: new JsonFileSeenRoots(dir) })
    expect((await reader.latest(owner.signer.publicKey)).version?.seq).toBe(3)
    const file = JSON.parse(await readFile(join(dir, SEEN_ROOTS_FILE), 'utf8')) as { version: number, roots: Record<string, number> }
    expect(file).toEqual({ version: 1, roots: { [toHex(owner.verifier.rootKey(owner.signer.publicKey))]: 3 } })
    expect(await readdir(dir)).toEqual([SEEN_ROOTS_FILE]) // no temporary file left behind

    // A node that serves version 2 (an old, validly signed root) to a new reader instance.
    const replay = new MemoryBlockService()
    for (const [hex, b] of blocks.blocks) replay.blocks.set(hex, { ...b })
    const key = owner.verifier.rootKey(owner.signer.publicKey)
    replay.blocks.set(toHex(key), { kind: BlockKind.ROOT, bytes: roots[1]!, seq: 2, expiresAt: Infinity })
    const restarted = new Reader({ blocks: replay, verifier: owner.verifier, seen: new JsonFileSeenRoots(dir) })
    expect(await rejection(restarted.latest(owner.signer.publicKey))).toBeInstanceOf(RootStaleError)
    // Without the memory of version 3 it would have been accepted.
    const amnesiac = new Reader({ blocks: replay, verifier: owner.verifier, seen: new JsonFileSeenRoots(await tempDir()) })
    expect((await amnesiac.latest(owner.signer.publicKey)).version?.seq).toBe(2)
  })

  it('checks the record inside a validly signed root', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const top = hashKey('not really an inode')
    const record = rootRecordCodec.encode({ seq: 7, timeMs: 1, top, prev: null })
    const key = owner.verifier.rootKey(owner.signer.publicKey)
    await blocks.put(BlockKind.ROOT, key, encodeRoot(owner.secretKey, 6, record)) // signed as 6, says 7
    const reader = new Reader({ blocks, verifier: owner.verifier })
    expect(await rejection(reader.latest(owner.signer.publicKey))).toBeInstanceOf(BlockInvalidError)
    await blocks.put(BlockKind.ROOT, key, encodeRoot(owner.secretKey, 8, Uint8Array.of(1, 2, 3)))
    expect(await rejection(reader.latest(owner.signer.publicKey))).toBeInstanceOf(BlockInvalidError)
  })
})
