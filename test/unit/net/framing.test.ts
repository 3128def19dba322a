import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameReader, HEADER_BYTES, STREAM_ALLOC_BYTES } from '../../../src/net/framing.js'

// FrameReader cuts length-prefixed frames out of a byte stream however it is chunked, and
// keeps nothing of a borrowed chunk (a socket's reused `onread` buffer) past push().

function stream (frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + HEADER_BYTES + f.length, 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const f of frames) {
    view.setUint32(at, f.length)
    out.set(f, at + HEADER_BYTES)
    at += HEADER_BYTES + f.length
  }
  return out
}

function frameOf (length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff)
}

describe('FrameReader', () => {
  it('returns every frame whole and in order, whatever the chunks, owned or borrowed (property)', () => {
    const lengths = fc.array(fc.oneof(fc.nat(300), fc.integer({ min: STREAM_ALLOC_BYTES - 10, max: STREAM_ALLOC_BYTES * 3 })), { minLength: 1, maxLength: 6 })
    fc.assert(fc.property(lengths, fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 20 }), fc.boolean(), (ls, cuts, borrowed) => {
      const frames = ls.map((l, i) => frameOf(l, i))
      const bytes = stream(frames)
      const reader = new FrameReader(1 << 20)
      const scratch = new Uint8Array(70_000)
      const got: Uint8Array[] = []
      let at = 0
      let c = 0
      while (at < bytes.length) {
        const n = Math.min(cuts[c++ % cuts.length] as number, bytes.length - at)
        if (borrowed) {
          scratch.set(bytes.subarray(at, at + n))
          reader.push(scratch.subarray(0, n), true)
          scratch.fill(0xee) // the socket reuses its buffer for the next read
        } else {
          reader.push(bytes.slice(at, at + n))
        }
        at += n
        for (let f = reader.next(); f !== undefined; f = reader.next()) got.push(f)
      }
      expect(got.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')))
    }), { seed: 11, numRuns: 60 })
  })

  it('lends the rest of a frame to a socket that reads into given memory, and returns every frame whole (property)', () => {
    const lengths = fc.array(fc.oneof(fc.nat(300), fc.integer({ min: STREAM_ALLOC_BYTES - 10, max: STREAM_ALLOC_BYTES * 3 })), { minLength: 1, maxLength: 6 })
    fc.assert(fc.property(lengths, fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 20 }), (ls, cuts) => {
      const frames = ls.map((l, i) => frameOf(l, i))
      const bytes = stream(frames)
      const reader = new FrameReader(1 << 20)
      const scratch = new Uint8Array(70_000)
      const got: Uint8Array[] = []
      const lent = new Set<ArrayBufferLike>()
      let at = 0
      let c = 0
      while (at < bytes.length) {
        // As a socket does: read at most the memory's length into it, then report.
        const into = reader.readTarget(scratch)
        if (into !== scratch) lent.add(into.buffer)
        const n = Math.min(cuts[c++ % cuts.length] as number, bytes.length - at, into.length)
        into.set(bytes.subarray(at, at + n))
        reader.received(into, n)
        if (into === scratch) scratch.fill(0xee) // reused for the next read
        at += n
        for (let f = reader.next(); f !== undefined; f = reader.next()) got.push(f)
      }
      expect(got.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')))
      // Past its first STREAM_ALLOC_BYTES, a large frame was read in place: its memory was lent.
      for (const f of got) if (f.length > STREAM_ALLOC_BYTES + 70_000) expect(lent.has(f.buffer)).toBe(true)
    }), { seed: 12, numRuns: 60 })
  })

  it('refuses a declared length over the limit once the frames before it are taken', () => {
    const reader = new FrameReader(100)
    reader.push(stream([frameOf(10, 1), frameOf(101, 2)]), true)
    expect(reader.next()?.length).toBe(10)
    expect(() => reader.next()).toThrow(/exceeds the limit of 100/)
  })
})
