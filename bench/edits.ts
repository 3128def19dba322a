// Tree edits through the owner's Volume alone: the CPU of one change in the file-tree layer,
// without FUSE, network or nodes (a MemoryBlockService; the journal, when on, is a real file).
// Files are made in /a/b, one directory of --files entries, as `cp` and `tar -x` do, then each
// gets a chmod (one change to one entry, rewriting its directory chain) and a rename.
//   npm run bench:edits -- [--files 2000] [--no-journal] [--json]
// Figures are microseconds per file (wall time, and CPU of this process).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { FileJournal, Volume } from '../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../test/helpers/memory-block-service.js'

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '2000' },
    'no-journal': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})
const n = Number(values.files)
const journaled = values['no-journal'] !== true
const dir = await mkdtemp(join(tmpdir(), 'cfs-bench-edits-'))
const owner = newOwner()
const volume = new Volume({
  blocks: new MemoryBlockService(), signer: owner.signer, verifier: owner.verifier,
  ...(journaled ? { journal: new FileJournal({ dir }) } : {}),
}, { publishIntervalMs: 1000 })
try {
  await volume.start()
  await volume.mkdir('/a')
  await volume.mkdir('/a/b')
  const data = new Uint8Array(4096).fill(7)
  const timed = async (f: (i: number) => Promise<void>): Promise<{ wallUs: number, cpuUs: number }> => {
    const t = performance.now()
    const c = process.cpuUsage()
    for (let i = 0; i < n; i++) await f(i)
    const used = process.cpuUsage(c)
    return { wallUs: Math.round((performance.now() - t) * 1000 / n), cpuUs: Math.round((used.user + used.system) / n) }
  }
  const create = await timed(async (i) => {
    const h = await volume.open(`/a/b/f${i}`, { write: true, create: true, mode: 0o644 })
    await h.write(0, data)
    await h.close()
  })
  const chmod = await timed(async (i) => { await volume.chmod(`/a/b/f${i}`, 0o600) })
  const rename = await timed(async (i) => { await volume.rename(`/a/b/f${i}`, `/a/b/g${i}`) })
  const r = { files: n, journal: journaled, create, chmod, rename }
  const text = (x: { wallUs: number, cpuUs: number }): string => `${x.wallUs} us (CPU ${x.cpuUs} us)`
  console.log(values.json === true ? JSON.stringify(r) : `${n} files in one directory${journaled ? '' : ', no journal'}: create+write+close ${text(create)}, chmod ${text(chmod)}, rename ${text(rename)} per file`)
} finally {
  await volume.stop()
  await rm(dir, { recursive: true, force: true })
}
