// The FUSE mount on a 3-process loopback ring with k = 3: `cfs mount --ring` in its own process,
// driven with dd and plain file calls from this one. Beside each rate it reports the CPU time the
// mount and the nodes used (utime + stime from /proc) per MB, or per file, and for the small
// files the time until the written tree is published (an fsync of their directory). The large
// write and the creates run twice, each on new content: the first figures are those of
// processes just started, the others those of a mount that has been running.
//   npm run bench:mount -- [--mib 256] [--files 2000] [--file-kib 4] [--json]
//   npm run bench:mount -- --serve     # only start the ring and the mount; print `serving DIR`
//                                      # and keep them until SIGINT/SIGTERM (for run-all.sh target)
//   --profile DIR writes a V8 CPU profile of every node and mount process into DIR.
//   --no-journal mounts with `cfs mount --no-journal` (unpublished changes in memory only), to
//   measure what the owner's journal costs.
// "Cold" means nothing of the file in a cache: the kernel's page cache dropped (that needs root;
// the output says when it was not permitted) and none of its blocks in the mount's. The large
// file's cold read is a running mount's; that of a mount process just started is reported
// beside it. The small files are read by a mount process just started.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fsyncDir, scratch, spawnMount, type MountProcess, type Scratch } from '../test/fuse/helpers.js'
import { waitForRing } from '../test/helpers/ring-settled.js'
import { dropCaches, sha256File, writeRandomFile } from './lib/files.js'
import { cpuMs, peakRssMiB, startRing, stopRing, type BenchNode } from './lib/ring.js'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    files: { type: 'string', default: '2000' },
    'file-kib': { type: 'string', default: '4' },
    serve: { type: 'boolean', default: false },
    profile: { type: 'string' },
    json: { type: 'boolean', default: false },
    'no-journal': { type: 'boolean', default: false },
  },
})

async function run (cmd: string, args: string[]): Promise<number> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-4000) })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`)
  return 0
}

async function timed (f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await f()
  return (performance.now() - t0) / 1000
}

const mbps = (bytes: number, seconds: number): number => Number((bytes / 1e6 / seconds).toFixed(1))
const perSec = (n: number, seconds: number): number => Math.round(n / seconds)

/** CPU ms per unit (MB or file): the mount's, the nodes' together, and both. */
interface CpuUse { mount: number, nodes: number, total: number }

let nodes: BenchNode[] = []
let s: Scratch | undefined
let mount: MountProcess | undefined
const report = (r: Record<string, unknown>, text: string): void => { console.log(values.json === true ? JSON.stringify(r) : text) }
try {
  const profileDir = values.profile
  nodes = await startRing({ nodes: 3, args: ['--replicas', '3', '--repair-ms', '600000'], ...(profileDir === undefined ? {} : { profileDir }) })
  await waitForRing(nodes)
  s = await scratch()
  const mnt = await s.dir('mnt')
  const args = ['--key', s.keyFile, '--ring', (nodes[0] as BenchNode).address, '--data', join(s.root, 'client'), ...(values['no-journal'] === true ? ['--no-journal'] : [])]
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  const start = async (): Promise<MountProcess> => spawnMount(s as Scratch, mnt, args, 60_000, nodeArgs)
  mount = await start()

  if (values.serve === true) {
    console.log(`serving ${mnt} (ring ${(nodes[0] as BenchNode).address})`)
    // Handlers stay installed: tsx relays a Ctrl-C to this process too, and a second signal
    // must not kill it before the ring and the mount are stopped below.
    await new Promise<void>((resolve) => {
      process.on('SIGINT', resolve)
      process.on('SIGTERM', resolve)
    })
  } else {
    /** CPU ms of the mount and of the nodes together spent in `f`, per `units`. */
    const cpu = async (f: () => Promise<void>, units: number): Promise<CpuUse> => {
      const pids = [(mount as MountProcess).process.pid, ...nodes.map((x) => x.process.pid)]
      const before = await Promise.all(pids.map(cpuMs))
      await f()
      const after = await Promise.all(pids.map(cpuMs))
      const used = after.map((a, i) => a - (before[i] as number))
      const round = (ms: number): number => Number((ms / units).toFixed(2))
      const nodesMs = used.slice(1).reduce((a, b) => a + b, 0)
      return { mount: round(used[0] as number), nodes: round(nodesMs), total: round((used[0] as number) + nodesMs) }
    }
    const cpuText = (c: CpuUse, unit: string): string => `${c.total} ms/${unit} (mount ${c.mount}, nodes ${c.nodes})`
    let mountPeakRss = 0
    const remount = async (): Promise<boolean> => {
      mountPeakRss = Math.max(mountPeakRss, await peakRssMiB((mount as MountProcess).process.pid))
      await (mount as MountProcess).stop()
      const dropped = await dropCaches()
      mount = await start()
      return dropped
    }

    // One large file: written with dd (fsync included), read back cold, then re-read. A file of
    // other random bytes is written first, into the same fresh processes: its figures are the
    // first write after start (the code not yet optimized by V8, heaps and caches growing into
    // new memory), the second file's those of a running mount. Both are new content: a block
    // already stored is not stored again, so rewriting the same bytes would measure less work.
    const mib = Number(values.mib)
    const bytes = mib * 1024 * 1024
    const src = join(s.root, 'big.src')
    const writeOnce = async (dest: string): Promise<{ seconds: number, cpu: CpuUse }> => {
      await writeRandomFile(src, mib)
      await dropCaches()
      let seconds = 0
      const used = await cpu(async () => { seconds = await timed(async () => run('dd', [`if=${src}`, `of=${dest}`, 'bs=1M', 'conv=fsync', 'status=none'])) }, bytes / 1e6)
      return { seconds, cpu: used }
    }
    const firstBig = join(mnt, 'first.bin')
    const first = await writeOnce(firstBig)
    const big = join(mnt, 'big.bin')
    const { seconds: write, cpu: writeCpu } = await writeOnce(big)
    // Cold reads: nothing of the file in the kernel's page cache (nor the nodes') or in the
    // mount's caches. The first is that of a mount process just started; the second reads the
    // other file in the same process, the page cache dropped again.
    const readCold = async (path: string): Promise<{ seconds: number, cpu: CpuUse }> => {
      let seconds = 0
      const used = await cpu(async () => { seconds = await timed(async () => run('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M', 'status=none'])) }, bytes / 1e6)
      return { seconds, cpu: used }
    }
    const cold = await remount()
    const firstRead = await readCold(firstBig)
    await dropCaches()
    const { seconds: read, cpu: readCpu } = await readCold(big)
    const reread = await timed(async () => run('dd', [`if=${big}`, 'of=/dev/null', 'bs=1M', 'status=none']))
    const same = await sha256File(src) === await sha256File(big)
    report({
      workload: 'large-file', mib, firstWriteMBps: mbps(bytes, first.seconds), firstWriteCpuMsPerMB: first.cpu,
      firstColdReadMBps: mbps(bytes, firstRead.seconds), firstColdReadCpuMsPerMB: firstRead.cpu,
      writeMBps: mbps(bytes, write), coldReadMBps: mbps(bytes, read), rereadMBps: mbps(bytes, reread),
      writeCpuMsPerMB: writeCpu, coldReadCpuMsPerMB: readCpu, pageCacheDropped: cold, verified: same,
    }, `${mib} MiB file: dd write+fsync ${mbps(bytes, write)} MB/s, ${cpuText(writeCpu, 'MB')} ` +
    `(the first after start ${mbps(bytes, first.seconds)} MB/s, ${cpuText(first.cpu, 'MB')}); cold read ${mbps(bytes, read)} MB/s, ${cpuText(readCpu, 'MB')} ` +
    `(the first after start ${mbps(bytes, firstRead.seconds)} MB/s, ${cpuText(firstRead.cpu, 'MB')}); ` +
    `re-read ${mbps(bytes, reread)} MB/s; checksums ${same ? 'equal' : 'DIFFER'}${cold ? '' : ' (page cache NOT dropped: not root)'}`)
    await rm(src)

    // Many small files, as shared/bench's smallfiles.mjs does it: create+write+close each, then
    // sync. As for the large file, a first set of other files is created before the measured
    // one, in the same mount: the first creates after start are reported beside.
    const n = Number(values.files)
    const size = Number(values['file-kib']) * 1024
    const createAll = async (dir: string): Promise<{ create: number, published: number, cpu: CpuUse, contents: Buffer[] }> => {
      const contents = Array.from({ length: n }, () => randomBytes(size))
      await mkdir(dir)
      let create = 0
      let published = 0
      const used = await cpu(async () => {
        create = await timed(async () => {
          for (let i = 0; i < n; i++) await writeFile(join(dir, `f${String(i).padStart(6, '0')}`), contents[i] as Buffer)
          await run('sync', [])
        })
        published = await timed(async () => fsyncDir(dir))
      }, n)
      return { create, published, cpu: used, contents }
    }
    const firstCreates = await createAll(join(mnt, 'small-first'))
    const dir = join(mnt, 'small')
    const { create, published, cpu: createCpu, contents } = await createAll(dir)
    await remount()
    let mismatches = 0
    let readAll = 0
    const readCpu2 = await cpu(async () => {
      readAll = await timed(async () => {
        for (let i = 0; i < n; i++) {
          if (!(await readFile(join(dir, `f${String(i).padStart(6, '0')}`))).equals(contents[i] as Buffer)) mismatches++
        }
      })
    }, n)
    report({
      workload: 'small-files', files: n, fileKiB: size / 1024, createFilesPerSec: perSec(n, create), publishedAfterS: Number(published.toFixed(2)),
      createAndPublishFilesPerSec: perSec(n, create + published), createCpuMsPerFile: createCpu,
      firstCreateFilesPerSec: perSec(n, firstCreates.create), firstCreateCpuMsPerFile: firstCreates.cpu,
      coldReadFilesPerSec: perSec(n, readAll), coldReadCpuMsPerFile: readCpu2, verified: mismatches === 0,
    }, `${n} x ${size / 1024} KiB files: create+sync ${perSec(n, create)} files/s, published ${published.toFixed(2)} s later ` +
    `(${perSec(n, create + published)} files/s in all), ${cpuText(createCpu, 'file')} ` +
    `(the first ${n} after start ${perSec(n, firstCreates.create)} files/s, ${cpuText(firstCreates.cpu, 'file')}); cold read ${perSec(n, readAll)} files/s, ${cpuText(readCpu2, 'file')}; ` +
    `${mismatches === 0 ? 'all equal' : `${mismatches} DIFFER`}`)

    const mountRss = Math.max(mountPeakRss, await peakRssMiB(mount.process.pid))
    const rss = await Promise.all(nodes.map(async (x) => peakRssMiB(x.process.pid)))
    report({ workload: 'memory', mountPeakRssMB: mountRss, nodePeakRssMB: rss }, `peak RSS: mount ${mountRss} MiB, nodes ${rss.join(', ')} MiB`)
    if (!same || mismatches > 0) process.exitCode = 1
  }
} finally {
  await mount?.stop()
  await stopRing(nodes)
  await s?.remove()
}
