import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { waitForRing } from './ring-settled.js'

export const CFS_BIN = fileURLToPath(new URL('../../bin/cfs', import.meta.url))

/** What one `cfs` command did. */
export interface CfsRun { code: number, stdout: string, stderr: string }

/**
 * Runs the built `cfs` with these arguments as a user would, in its own process: its exit code
 * and output. `binary`: stdout is read as latin1, byte for byte (`cfs cat` of binary data).
 */
export async function runCfs (args: string[], options: { env?: NodeJS.ProcessEnv, timeoutMs?: number, binary?: boolean } = {}): Promise<CfsRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CFS_BIN, ...args], {
      maxBuffer: 64 * 1024 * 1024, encoding: 'buffer', env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000,
    }, (err, stdout, stderr) => {
      const code = err === null ? 0 : (typeof err.code === 'number' ? err.code : 1)
      resolve({ code, stdout: stdout.toString(options.binary === true ? 'latin1' : 'utf8'), stderr: stderr.toString() })
    })
  })
}

/** A `cfs node` child process: its address and id come from its one `ready` line. */
export interface Daemon {
  readonly process: ChildProcess
  readonly address: string
  readonly id: string
  readonly dataDir: string
  /** "host:port" of the HTTP status endpoint, when the node was started with `--http`. */
  readonly httpAddress: string | undefined
  /** The last 20,000 characters the node wrote on stderr. */
  readonly stderr: string
}

export interface SpawnOptions {
  /** Data directory to use (a restart reuses the old one); default: a new temp directory. */
  dataDir?: string
  /** Address to listen on (a restart reuses the old port). @default '127.0.0.1:0' */
  listen?: string
}

const HTTP_LINE = /http status on http:\/\/(\S+)\/status/

/**
 * Spawns `cfs node --listen 127.0.0.1:0 --data <dir> ...args` and waits for `ready`; with
 * `--http` among the args, also for the `http status on http://HOST:PORT/status` stderr line.
 */
export async function spawnDaemon (args: string[] = [], timeoutMs = 20_000, options: SpawnOptions = {}): Promise<Daemon> {
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'cfs-node-'))
  const child = spawn(process.execPath, [CFS_BIN, 'node', '--listen', options.listen ?? '127.0.0.1:0', '--data', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let httpAddress: string | undefined
  let onHttp: (() => void) | undefined
  child.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-20_000)
    if (httpAddress === undefined) {
      const m = HTTP_LINE.exec(stderr)
      if (m !== null) { httpAddress = m[1]; onHttp?.() }
    }
  })
  const lines = createInterface({ input: child.stdout })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const exited = once(child, 'exit').then(() => { throw new Error(`cfs node exited before ready:\n${stderr}`) })
  exited.catch(() => {}) // raced below; a later exit is the caller's business
  try {
    const [line] = await Promise.race([once(lines, 'line') as Promise<[string]>, exited])
    const m = /^ready (\S+) ([0-9a-f]{64})$/.exec(line)
    if (m === null) throw new Error(`unexpected first line: ${line}`)
    if (args.includes('--http') && httpAddress === undefined) {
      await Promise.race([new Promise<void>((resolve) => { onHttp = resolve }), exited])
    }
    return {
      process: child,
      address: m[1] as string,
      id: m[2] as string,
      dataDir,
      get httpAddress () { return httpAddress },
      get stderr () { return stderr },
    }
  } catch (err) {
    // A node that never became ready leaves nothing behind: no process, no temp directory.
    if (child.exitCode === null && child.signalCode === null) {
      const gone = once(child, 'exit')
      child.kill('SIGKILL')
      await gone
    }
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true })
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** Whether the process has not exited yet. */
export function isRunning (d: Daemon): boolean {
  return d.process.exitCode === null && d.process.signalCode === null
}

/**
 * Kills by PID (SIGKILL unless told otherwise), waits for the exit, and removes the data
 * directory unless `keepData` (to restart the node on it).
 */
export async function killDaemon (d: Daemon, signal: NodeJS.Signals = 'SIGKILL', options: { keepData?: boolean } = {}): Promise<void> {
  if (isRunning(d)) {
    const exited = once(d.process, 'exit')
    d.process.kill(signal)
    await exited
  }
  if (options.keepData !== true) await rm(d.dataDir, { recursive: true, force: true })
}

/** The keys in a node's replica store, from its HTTP /keys listing (paged); the node runs with --http. */
export async function listKeys (d: Daemon): Promise<Set<string>> {
  const keys = new Set<string>()
  let after: string | null = null
  do {
    const url: string = `http://${d.httpAddress}/keys?limit=1000${after === null ? '' : `&after=${after}`}`
    const res = await fetch(url)
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`)
    const body = await res.json() as { keys: Array<{ key: string }>, next: string | null }
    for (const k of body.keys) keys.add(k.key)
    after = body.next
  } while (after !== null)
  return keys
}

/**
 * A ring of `count` `cfs node` processes started with `args`: the first, then the others
 * joining it, returned once every node's pointers have settled (waitForRing).
 */
export async function spawnRing (count: number, args: readonly string[], timeoutMs = 60_000): Promise<Daemon[]> {
  const seed = await spawnDaemon([...args])
  const others = await Promise.all(Array.from({ length: count - 1 }, async () => spawnDaemon([...args, '--join', seed.address])))
  const nodes = [seed, ...others]
  await waitForRing(nodes, timeoutMs)
  return nodes
}
