// Starts `cfs node` processes on 127.0.0.1 for benchmarks, and stops them by PID. BENCH_NODE_FLAGS
// adds flags to node's command line for each (`BENCH_NODE_FLAGS=--trace-gc` counts collections).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const CFS_BIN = fileURLToPath(new URL('../../bin/cfs', import.meta.url))

export interface BenchNode {
  readonly process: ChildProcess
  readonly address: string
  readonly dataDir: string
}

export interface RingOptions {
  nodes: number
  args?: string[]
  /** Write a V8 CPU profile of every node into this directory (they are written on exit). */
  profileDir?: string
}

export async function startRing (options: RingOptions): Promise<BenchNode[]> {
  const out: BenchNode[] = []
  try {
    for (let i = 0; i < options.nodes; i++) {
      out.push(await startNode([...(options.args ?? []), ...(i === 0 ? [] : ['--join', (out[0] as BenchNode).address])], options.profileDir))
    }
  } catch (err) {
    await stopRing(out)
    throw err
  }
  return out
}

async function startNode (args: string[], profileDir: string | undefined): Promise<BenchNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cfs-bench-'))
  const prof = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')
  const child = spawn(process.execPath, [...prof, ...extra, CFS_BIN, 'node', '--listen', '127.0.0.1:0', '--data', dataDir, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  // The ready line gives the address; anything else the node prints (V8's --trace-gc, given in
  // BENCH_NODE_FLAGS) goes to stderr.
  const ready = new Promise<string>((resolve) => {
    lines.on('line', (l) => {
      const m = /^ready (\S+) /.exec(l)
      if (m !== null) resolve(m[1] as string)
      else process.stderr.write(`[${child.pid ?? '?'}] ${l}\n`)
    })
  })
  const address = await Promise.race([
    ready,
    once(child, 'exit').then(() => { throw new Error('cfs node exited before it was ready') }),
  ])
  return { process: child, address, dataDir }
}

/** SIGTERM (a graceful leave, which also flushes CPU profiles), SIGKILL after 15 s. */
export async function stopRing (nodes: readonly BenchNode[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => {
    if (n.process.exitCode === null && n.process.signalCode === null) {
      const exited = once(n.process, 'exit')
      n.process.kill('SIGTERM')
      const timer = setTimeout(() => { n.process.kill('SIGKILL') }, 15_000)
      await exited
      clearTimeout(timer)
    }
    await rm(n.dataDir, { recursive: true, force: true })
  }))
}

/** A memory field of /proc/PID/status (given in kB) in MiB; undefined if unreadable. */
async function statusMiB (pid: number | undefined, field: 'VmHWM' | 'RssAnon'): Promise<number | undefined> {
  if (pid === undefined) return undefined
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)
  return m === null ? undefined : Math.round(Number(m[1]) / 1024)
}

/** Peak resident set of a process in MiB (VmHWM), from /proc. */
export async function peakRssMiB (pid: number | undefined): Promise<number> {
  return await statusMiB(pid, 'VmHWM') ?? 0
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (clock ticks of 10 ms). */
export async function cpuMs (pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/**
 * Samples each process's anonymous resident memory (RssAnon) every `intervalMs` until stopped,
 * and reports each one's largest sample in MiB. VmHWM also counts file pages a process has
 * mapped, such as LevelDB's memory-mapped table files after reads: clean page cache the kernel
 * can take back, which grows with the data read.
 */
export function sampleAnonRss (pids: ReadonlyArray<number | undefined>, intervalMs = 250): () => number[] {
  const peaks = pids.map(() => 0)
  const sample = async (): Promise<void> => {
    await Promise.all(pids.map(async (pid, i) => {
      const mib = await statusMiB(pid, 'RssAnon')
      if (mib !== undefined) peaks[i] = Math.max(peaks[i] as number, mib)
    }))
  }
  const timer = setInterval(() => { void sample() }, intervalMs)
  void sample()
  return () => {
    clearInterval(timer)
    return peaks
  }
}
