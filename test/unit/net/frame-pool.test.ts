import { describe, expect, it } from 'vitest'
import { FramePool } from '../../../src/net/frame-pool.js'
import { FrameReader, HEADER_BYTES } from '../../../src/net/framing.js'

// A FramePool lends buffers for large incoming frames and takes back only its own, once each:
// a buffer given back is the next frame's, so giving one twice would hand it to two frames.

function framed (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, HEADER_BYTES)
  return out
}

describe('FramePool', () => {
  it('lends buffers for frames within its sizes only', () => {
    const pool = new FramePool({}, { minBytes: 1000, bufferBytes: 4000 })
    expect(pool.take(999)).toBeUndefined()
    expect(pool.take(4001)).toBeUndefined()
    const b = pool.take(1000) as Uint8Array
    expect(b.length).toBe(1000)
    expect(b.buffer.byteLength).toBe(4000)
    expect(pool.take(4000)?.length).toBe(4000)
  })

  it('reuses a buffer given back, and only once however often it is given', () => {
    const pool = new FramePool({}, { minBytes: 10, bufferBytes: 100 })
    const a = pool.take(50) as Uint8Array
    pool.give(a.subarray(10, 20)) // any view of the frame gives it back
    pool.give(a) // again: ignored
    const b = pool.take(60) as Uint8Array
    const c = pool.take(60) as Uint8Array
    expect(b.buffer).toBe(a.buffer)
    expect(c.buffer).not.toBe(a.buffer)
    expect(pool.stats).toMatchObject({ taken: 3, reused: 1, givenBack: 1, free: 0 })
  })

  it('ignores memory it did not lend', () => {
    const pool = new FramePool({}, { minBytes: 10, bufferBytes: 100 })
    pool.give(new Uint8Array(50))
    expect(pool.stats.free).toBe(0)
    expect(pool.take(50)?.buffer.byteLength).toBe(100)
    expect(pool.stats.reused).toBe(0)
  })

  it('keeps at most maxFree buffers', () => {
    const pool = new FramePool({}, { minBytes: 10, bufferBytes: 100, maxFree: 2 })
    const taken = [pool.take(50), pool.take(50), pool.take(50)] as Uint8Array[]
    for (const t of taken) pool.give(t)
    expect(pool.stats.free).toBe(2)
  })
})

describe('FrameReader with a FramePool', () => {
  it('reads large frames into the pool\'s buffers, small ones into their own, all whole', () => {
    const pool = new FramePool({}, { minBytes: 100_000, bufferBytes: 200_000 })
    const reader = new FrameReader(1 << 20, pool)
    const large = Uint8Array.from({ length: 150_000 }, (_, i) => i & 0xff)
    const small = Uint8Array.from({ length: 500 }, (_, i) => (i * 7) & 0xff)
    reader.push(framed(large))
    reader.push(framed(small))
    const first = reader.next() as Uint8Array
    const second = reader.next() as Uint8Array
    expect(first).toEqual(large)
    expect(first.buffer.byteLength).toBe(200_000)
    expect(second).toEqual(small)
    expect(pool.stats.taken).toBe(1)
  })

  it('a frame given back holds the next large frame, which arrives whole', () => {
    const pool = new FramePool({}, { minBytes: 100_000, bufferBytes: 200_000 })
    const reader = new FrameReader(1 << 20, pool)
    const one = new Uint8Array(120_000).fill(1)
    const two = Uint8Array.from({ length: 130_000 }, (_, i) => (i * 13) & 0xff)
    reader.push(framed(one))
    const a = reader.next() as Uint8Array
    expect(a).toEqual(one)
    pool.give(a)
    // In pieces, as a socket delivers it, the second part read in place into the lent frame.
    const bytes = framed(two)
    const scratch = new Uint8Array(70_000)
    reader.push(bytes.subarray(0, 70_000))
    const target = reader.readTarget(scratch)
    expect(target.buffer).toBe(a.buffer)
    target.set(bytes.subarray(70_000))
    reader.received(target, bytes.length - 70_000)
    const b = reader.next() as Uint8Array
    expect(b.buffer).toBe(a.buffer)
    expect(b).toEqual(two)
  })
})
