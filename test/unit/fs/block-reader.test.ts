import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hashKey, type AbortOptions, type Key } from '../../../src/core/index.js'
import { BlockKind, type BlockService } from '../../../src/dhash/index.js'
import { BlockReader } from '../../../src/fs/block-reader.js'
import { ReadLoans, Volume } from '../../../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'

// The block reader gives a data block's memory back to the block service (recycle: the frame
// is read into again) only once nothing can refer to it: it has left the cache and every
// borrower released it, and nobody got it through getData. A recycled block is poisoned here,
// as the next frame read into it would overwrite it, so any view used too late shows.

const POISON = 0xee

/** Gets hand out fresh copies (frames); recycle poisons the copy and fails on a second give. */
class RecyclingBlocks implements Pick<BlockService, 'get' | 'recycle'> {
  gets = 0
  recycled = 0
  private readonly issued = new WeakSet<ArrayBuffer>()
  private readonly given = new WeakSet<ArrayBuffer>()
  /** Gets wait for this before answering, when set. */
  gate: Promise<void> | undefined

  constructor (private readonly inner: Pick<BlockService, 'get'>) {}

  async get (kind: BlockKind, key: Key, options?: AbortOptions): Promise<Uint8Array> {
    this.gets++
    const bytes = await this.inner.get(kind, key, options)
    if (this.gate !== undefined) await this.gate
    const frame = new Uint8Array(bytes.length + 7).subarray(3, 3 + bytes.length) // a view into a larger frame
    frame.set(bytes)
    this.issued.add(frame.buffer)
    return frame
  }

  recycle (bytes: Uint8Array): void {
    const buffer = bytes.buffer as ArrayBuffer
    if (!this.issued.has(buffer)) throw new Error('recycled memory no get handed out')
    if (this.given.has(buffer)) throw new Error('recycled twice')
    this.given.add(buffer)
    this.recycled++
    new Uint8Array(buffer).fill(POISON)
  }
}

/** `n` pseudo-random bytes (no two blocks of a file alike, so none is stored once for both). */
function blockOf (n: number, seed: number): Uint8Array {
  let x = seed * 2654435761 + 1
  return Uint8Array.from({ length: n }, () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x & 0xff
  })
}

async function stored (...blocks: Uint8Array[]): Promise<{ keys: Key[], service: RecyclingBlocks }> {
  const memory = new MemoryBlockService()
  const keys: Key[] = []
  for (const b of blocks) {
    const key = hashKey(b)
    await memory.put(BlockKind.CONTENT, key, b)
    keys.push(key)
  }
  return { keys, service: new RecyclingBlocks(memory) }
}

describe('BlockReader: recycling data blocks', () => {
  it('gives a borrowed block back once it is read past and released, not before', async () => {
    const a = blockOf(1000, 1)
    const { keys: [key], service } = await stored(a)
    const reader = new BlockReader(service)
    const lent = await reader.borrowData(key as Key)
    expect(lent.bytes).toEqual(a)
    reader.readPast(key as Key)
    expect(service.recycled).toBe(0) // still lent
    expect(lent.bytes).toEqual(a)
    lent.release()
    lent.release() // once only
    expect(service.recycled).toBe(1)
    // Read again: fetched afresh, intact.
    expect(await reader.getData(key as Key)).toEqual(a)
    expect(service.gets).toBe(2)
  })

  it('a block released while still cached is given back when it leaves the cache', async () => {
    const a = blockOf(1000, 2)
    const { keys: [key], service } = await stored(a)
    const reader = new BlockReader(service)
    const lent = await reader.borrowData(key as Key)
    lent.release()
    expect(service.recycled).toBe(0)
    const again = await reader.borrowData(key as Key) // from the cache
    expect(again.bytes).toEqual(a)
    expect(service.gets).toBe(1)
    again.release()
    reader.forget([key as Key])
    expect(service.recycled).toBe(1)
  })

  it('never gives back a block getData handed out, nor one cachedData or a prefetch-then-getData did', async () => {
    const a = blockOf(1000, 3)
    const b = blockOf(1000, 4)
    const { keys: [ka, kb], service } = await stored(a, b)
    const reader = new BlockReader(service)
    const kept = await reader.getData(ka as Key)
    const lent = await reader.borrowData(ka as Key)
    lent.release()
    reader.readPast(ka as Key)
    expect(kept).toEqual(a)
    reader.prefetchData(kb as Key)
    await new Promise((resolve) => setImmediate(resolve))
    const cached = reader.cachedData(kb as Key) as Uint8Array
    reader.readPast(kb as Key)
    expect(cached).toEqual(b)
    expect(service.recycled).toBe(0)
  })

  it('borrowers of one fetch share it; the block goes back after the last release', async () => {
    const a = blockOf(1000, 5)
    const { keys: [key], service } = await stored(a)
    const reader = new BlockReader(service)
    const [one, two] = await Promise.all([reader.borrowData(key as Key), reader.borrowData(key as Key)])
    expect(service.gets).toBe(1)
    expect(one.bytes).toBe(two.bytes)
    reader.readPast(key as Key)
    one.release()
    expect(service.recycled).toBe(0)
    expect(two.bytes).toEqual(a)
    two.release()
    expect(service.recycled).toBe(1)
  })

  it('a borrowed block the cache evicts for room goes back at its release', async () => {
    const blocks = [blockOf(1000, 6), blockOf(1000, 7), blockOf(1000, 8)]
    const { keys, service } = await stored(...blocks)
    const reader = new BlockReader(service, { dataCacheBytes: 2000 })
    const first = await reader.borrowData(keys[0] as Key)
    await reader.getData(keys[1] as Key)
    const third = await reader.borrowData(keys[2] as Key) // evicts the first
    expect(first.bytes).toEqual(blocks[0])
    expect(service.recycled).toBe(0)
    first.release()
    expect(service.recycled).toBe(1)
    third.release()
  })

  it('a block larger than the cache is never given back', async () => {
    const a = blockOf(3000, 9)
    const { keys: [key], service } = await stored(a)
    const reader = new BlockReader(service, { dataCacheBytes: 2000 })
    const lent = await reader.borrowData(key as Key)
    lent.release()
    expect(lent.bytes).toEqual(a)
    expect(service.recycled).toBe(0)
  })

  it('a waiter whose block was evicted and given back before its turn gets it fetched again', async () => {
    const a = blockOf(1000, 10)
    const b = blockOf(1000, 11)
    const { keys: [ka, kb], service } = await stored(a, b)
    const reader = new BlockReader(service, { dataCacheBytes: 1000 })
    let open!: () => void
    service.gate = new Promise((resolve) => { open = resolve })
    // Both fetches are answered in one turn: caching b evicts a before a's borrower runs.
    const lentA = reader.borrowData(ka as Key)
    const lentB = reader.borrowData(kb as Key)
    await new Promise((resolve) => setImmediate(resolve))
    service.gate = undefined
    open()
    const [gotA, gotB] = await Promise.all([lentA, lentB])
    expect(gotA.bytes).toEqual(a)
    expect(gotB.bytes).toEqual(b)
    gotA.release()
    gotB.release()
  })
})

describe('Volume reads with loans', () => {
  it('every read answers the file\'s bytes while its loans last, and views read without loans stay whole (property)', async () => {
    const blockSize = 4096
    const memory = new MemoryBlockService()
    const owner = newOwner()
    const content = blockOf(blockSize * 9 + 123, 12)
    const writer = new Volume({ blocks: memory, signer: owner.signer, verifier: owner.verifier }, { blockSizeBytes: blockSize, publishIntervalMs: 0 })
    await writer.start()
    await writer.create('/f')
    await writer.write('/f', 0, content)
    await writer.sync()
    await writer.stop()

    let recycled = 0
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({
        handle: fc.nat(2),
        offset: fc.oneof(fc.nat(9).map((b) => b * blockSize), fc.nat(content.length)),
        length: fc.oneof(fc.constant(blockSize), fc.integer({ min: 1, max: 3 * blockSize })),
        loans: fc.boolean(),
        stream: fc.boolean(),
        hold: fc.nat(3),
      }), { minLength: 1, maxLength: 40 }),
      async (reads) => {
        const blocks = new RecyclingBlocks(memory)
        // The owner's volume reads through the same BlockReader a mount does; a small data
        // cache and read-ahead make blocks leave the cache while others still use them.
        const service: BlockService = {
          put: memory.put.bind(memory),
          has: memory.has.bind(memory),
          refresh: memory.refresh.bind(memory),
          get: blocks.get.bind(blocks),
          recycle: blocks.recycle.bind(blocks),
        }
        const vol = new Volume(
          { blocks: service, signer: owner.signer, verifier: owner.verifier },
          { blockSizeBytes: blockSize, dataCacheBytes: 3 * blockSize, readAheadBlocks: 2, publishIntervalMs: 0 },
        )
        await vol.start()
        try {
          const handles = await Promise.all([0, 1, 2].map(async () => vol.open('/f')))
          const kept: Array<{ view: Uint8Array, expected: Uint8Array }> = []
          await Promise.all(reads.map(async (r, i) => {
            // Staggered: reads overlap, as the kernel's do.
            for (let t = 0; t < (i % 4); t++) await new Promise((resolve) => setImmediate(resolve))
            const loans = r.loans ? new ReadLoans() : undefined
            const handle = handles[r.handle] as typeof handles[number]
            let got: Uint8Array
            if (r.stream) {
              // A stream's chunks are copies (readRange): each block is released once copied.
              const chunks: Uint8Array[] = []
              for await (const chunk of handle.readStream({ offset: r.offset, length: r.length })) chunks.push(chunk)
              got = Buffer.concat(chunks)
            } else {
              got = await handle.read(r.offset, r.length, { shared: true, ...(loans === undefined ? {} : { loans }) })
            }
            const expected = content.subarray(r.offset, Math.min(content.length, r.offset + r.length))
            const what = `read of ${r.length} at ${r.offset}`
            expect(Buffer.compare(got, expected), what).toBe(0)
            // A FUSE reply copies at once; hold the loan a few turns to let others go by meanwhile.
            for (let t = 0; t < r.hold; t++) await new Promise((resolve) => setImmediate(resolve))
            expect(Buffer.compare(got, expected), `${what}, held`).toBe(0)
            if (loans !== undefined) loans.end()
            else kept.push({ view: got, expected })
          }))
          for (const { view, expected } of kept) expect(Buffer.compare(view, expected), 'a view read without loans').toBe(0)
          for (const h of handles) await h.close()
        } finally {
          await vol.stop()
          recycled += blocks.recycled
        }
      },
    ), { numRuns: 40 })
    expect(recycled).toBeGreaterThan(0) // the reads did give blocks back
  })
})
