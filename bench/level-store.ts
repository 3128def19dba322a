// LevelBlockStore put (and read-back) throughput on local disk, with random incompressible
// blocks under random keys, as a node receives them.
// npm run bench:store -- [--mb 200] [--sizes 8192,1048576] [--concurrency 1,16] [--write-buffer-mib 64] [--json]
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { asKey, type Key } from '../src/core/index.js'
import { BlockKind } from '../src/dhash/block.js'
import { LevelBlockStore } from '../src/dhash/store/index.js'

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '200' },
    sizes: { type: 'string', default: '8192,1048576' },
    concurrency: { type: 'string', default: '1,16' },
    'write-buffer-mib': { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
})

const totalBytes = Number(values.mb) * 2 ** 20
const writeBufferBytes = Number(values['write-buffer-mib']) * 2 ** 20
// Blocks are windows into one random pool: random content without paying for randomBytes per put.
const pool = new Uint8Array(randomBytes(64 * 2 ** 20))

async function inParallel (count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await task(next++)
  }))
}

for (const size of (values.sizes ?? '').split(',').map(Number)) {
  for (const concurrency of (values.concurrency ?? '').split(',').map(Number)) {
    const location = await mkdtemp(path.join(os.tmpdir(), 'cfs-bench-store-'))
    const store = new LevelBlockStore({}, { location, writeBufferBytes })
    await store.open()
    const count = Math.ceil(totalBytes / size)
    const keys: Key[] = Array.from({ length: count }, () => asKey(new Uint8Array(randomBytes(32))))
    const blockAt = (i: number): Uint8Array => {
      const offset = (i * 4099) % (pool.length - size)
      return pool.subarray(offset, offset + size)
    }

    const t0 = performance.now()
    await inParallel(count, concurrency, async (i) => {
      const bytes = blockAt(i)
      await store.put(keys[i] as Key, { kind: BlockKind.CONTENT, expiresAt: Date.now() + 86_400_000, owner: '', seq: 0, size, bytes })
    })
    const putSec = (performance.now() - t0) / 1000

    const t1 = performance.now()
    await inParallel(count, concurrency, async (i) => {
      const got = await store.get(keys[i] as Key)
      if (got?.bytes.length !== size) throw new Error(`block ${i} did not read back`)
    })
    const getSec = (performance.now() - t1) / 1000

    await store.close()
    await rm(location, { recursive: true, force: true })
    const result = {
      blockBytes: size,
      concurrency,
      blocks: count,
      writeBufferMiB: writeBufferBytes / 2 ** 20,
      putMBps: Number((count * size / 2 ** 20 / putSec).toFixed(1)),
      putsPerSec: Math.round(count / putSec),
      getMBps: Number((count * size / 2 ** 20 / getSec).toFixed(1)),
      peakRssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    }
    if (values.json === true) {
      console.log(JSON.stringify(result))
    } else {
      console.log(`${String(size).padStart(8)} B x ${String(count).padStart(6)}  concurrency ${String(concurrency).padStart(2)}  ` +
        `put ${String(result.putMBps).padStart(6)} MiB/s (${result.putsPerSec}/s)  get ${String(result.getMBps).padStart(6)} MiB/s  ` +
        `write buffer ${result.writeBufferMiB} MiB  rss ${result.peakRssMB} MB`)
    }
  }
}
