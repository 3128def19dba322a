// The file tree's data block size, measured (docs/PROTOCOL.md#data-blocks):
// 1. write (Volume.writeStream + sync) and read (readStream) throughput of one file on a
//    MemoryBlockService, per block size, with no latency and with a simulated round trip
//    per put/get (the real cost per block: one RPC to the primary, which stores to k replicas);
// 2. block reuse after inserting one byte in the middle of a file, fixed-size blocks against
//    content-defined chunking (a gear-hash chunker written here only to measure it).
// npm run bench:fs -- [--mib 64] [--sizes 8,16,32,64,128,256,512,1024] [--latency-ms 0,5] [--repeat 2] [--json]
// Each figure is the best of --repeat runs. The service does not hash puts again (the volume
// did); gets are verified, as a reader's are.
import { createCipheriv } from 'node:crypto'
import { parseArgs } from 'node:util'
import { hashKey, toHex } from '../src/core/index.js'
import { Volume } from '../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../test/helpers/memory-block-service.js'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '64' },
    sizes: { type: 'string', default: '8,16,32,64,128,256,512,1024' },
    'latency-ms': { type: 'string', default: '0,5' },
    repeat: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
})
const MiB = 2 ** 20
const total = Number(values.mib) * MiB

/** Pseudo-random bytes [from, to) of one endless stream, in 1 MiB pieces. */
function * generated (from: number, to: number): Generator<Uint8Array> {
  const aes = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16))
  const zeros = Buffer.alloc(MiB)
  for (let at = 0; at < to; at += MiB) {
    const chunk = aes.update(zeros)
    const start = Math.max(from - at, 0)
    const end = Math.min(to - at, MiB)
    if (end > start) yield chunk.subarray(start, end)
  }
}

interface Row { blockKiB: number, latencyMs: number, writeMBps: number, readMBps: number, blocks: number }
const rows: Row[] = []
for (const latencyMs of (values['latency-ms'] ?? '0').split(',').map(Number)) {
  for (const kib of (values.sizes ?? '').split(',').map(Number)) {
    let best: Row | undefined
    for (let run = 0; run < Number(values.repeat); run++) {
      const blocks = new MemoryBlockService({ latencyMs })
      const vol = new Volume({ blocks, ...newOwner() }, { publishIntervalMs: 0, blockSizeBytes: kib * 1024 })
      await vol.start()
      let t = performance.now()
      await vol.writeStream('/f', generated(0, total))
      await vol.sync()
      const writeMs = performance.now() - t
      t = performance.now()
      let n = 0
      for await (const chunk of vol.readStream('/f')) n += chunk.length
      const readMs = performance.now() - t
      if (n !== total) throw new Error(`read ${n} of ${total} bytes`)
      const row = { blockKiB: kib, latencyMs, writeMBps: total / 1e3 / writeMs, readMBps: total / 1e3 / readMs, blocks: blocks.counts.contentPuts }
      best = best === undefined ? row : { ...row, writeMBps: Math.max(best.writeMBps, row.writeMBps), readMBps: Math.max(best.readMBps, row.readMBps) }
      await vol.stop()
    }
    rows.push(best!)
  }
}

/** Gear-hash content-defined chunking (FastCDC's rolling hash, no normalization). */
function cdcChunks (data: Uint8Array, avgBits: number, min: number, max: number): Uint8Array[] {
  const gear = new Uint32Array(256)
  for (let i = 0; i < 256; i++) gear[i] = new DataView(hashKey(`gear${i}`).buffer).getUint32(0)
  const mask = (2 ** avgBits - 1) << (32 - avgBits)
  const out: Uint8Array[] = []
  let start = 0
  let h = 0
  for (let i = 0; i < data.length; i++) {
    h = ((h << 1) + gear[data[i]!]!) >>> 0
    const len = i + 1 - start
    if ((len >= min && (h & mask) === 0) || len >= max) {
      out.push(data.subarray(start, i + 1))
      start = i + 1
      h = 0
    }
  }
  if (start < data.length) out.push(data.subarray(start))
  return out
}

function concat (parts: Iterable<Uint8Array>): Uint8Array {
  return Buffer.concat([...parts])
}

const size = 64 * MiB
const original = concat(generated(0, size))
const insertedBytes = concat([original.subarray(0, size / 2), Uint8Array.of(42), original.subarray(size / 2)])
const fixed = (data: Uint8Array, bs: number): string[] => {
  const keys: string[] = []
  for (let i = 0; i < data.length; i += bs) keys.push(toHex(hashKey(data.subarray(i, i + bs))))
  return keys
}
const reuse = (a: string[], b: string[]): string => {
  const have = new Set(a)
  const shared = b.filter((k) => have.has(k)).length
  return `${shared}/${b.length} (${(100 * shared / b.length).toFixed(1)}%)`
}
const bs = 256 * 1024
const cdcA = cdcChunks(original, 18, 64 * 1024, 1024 * 1024).map((c) => toHex(hashKey(c)))
const cdcB = cdcChunks(insertedBytes, 18, 64 * 1024, 1024 * 1024).map((c) => toHex(hashKey(c)))
const reuseRows = {
  fixed256KiB: reuse(fixed(original, bs), fixed(insertedBytes, bs)),
  cdcAvg256KiB: reuse(cdcA, cdcB),
}

if (values.json === true) {
  console.log(JSON.stringify({ mib: Number(values.mib), rows, reuse: reuseRows }))
} else {
  console.log(`file of ${values.mib} MiB, MemoryBlockService, 8 uploads in flight, read-ahead 8 blocks`)
  console.log('block KiB | latency ms | write MB/s | read MB/s | content puts')
  for (const r of rows) console.log(`${String(r.blockKiB).padStart(9)} | ${String(r.latencyMs).padStart(10)} | ${r.writeMBps.toFixed(1).padStart(10)} | ${r.readMBps.toFixed(1).padStart(9)} | ${r.blocks}`)
  console.log(`insert 1 byte at the middle of 64 MiB: fixed 256 KiB blocks reuse ${reuseRows.fixed256KiB}; gear CDC (avg 256 KiB, 64 KiB..1 MiB) reuses ${reuseRows.cdcAvg256KiB}`)
}
