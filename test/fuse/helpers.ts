import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { access, mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const CFS_BIN = fileURLToPath(new URL('../../bin/cfs', import.meta.url))
const DIST_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

/** Why the FUSE tests cannot run here, or undefined if they can. */
export async function fuseUnavailable (): Promise<string | undefined> {
  try {
    await access('/dev/fuse')
  } catch {
    return 'no /dev/fuse'
  }
  try {
    await access(DIST_MAIN)
  } catch {
    return 'not built (npm run build)'
  }
  const r = await sh('command -v fusermount3')
  return r.code === 0 ? undefined : 'no fusermount3'
}

export interface ShResult { code: number, stdout: string, stderr: string }

/** Runs a bash command asynchronously (never execSync: a mount must not wait on its own process). */
export async function sh (command: string, options: { cwd?: string, timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<ShResult> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], {
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...options.env },
    }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** Like sh, but fails with the command's output unless it exits 0. */
export async function ok (command: string, options: { cwd?: string, timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await sh(command, options)
  if (r.code !== 0) throw new Error(`${command}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

/** Whether a command is on the PATH. */
export async function hasCommand (name: string): Promise<boolean> {
  return (await sh(`command -v ${name}`)).code === 0
}

/** A scratch area: a data directory (CFS_DATA) and a key per test file. */
export interface Scratch {
  readonly root: string
  readonly env: NodeJS.ProcessEnv
  readonly keyFile: string
  readonly publicKey: string
  dir: (name: string) => Promise<string>
  remove: () => Promise<void>
}

export async function scratch (): Promise<Scratch> {
  const root = await mkdtemp(join(tmpdir(), 'cfs-fuse-'))
  const env = { CFS_DATA: join(root, 'data') }
  const keyFile = join(root, 'owner.key')
  const publicKey = (await ok(`node ${CFS_BIN} keygen ${keyFile}`, { env })).trim()
  return {
    root,
    env,
    keyFile,
    publicKey,
    dir: async (name) => {
      const d = join(root, name)
      await mkdir(d, { recursive: true })
      return d
    },
    remove: async () => { await rm(root, { recursive: true, force: true }) },
  }
}

/** A `cfs mount` child process serving `dir`. */
export interface MountProcess {
  readonly process: ChildProcess
  readonly dir: string
  /** Everything printed before `mounted DIR`. */
  readonly banner: string[]
  readonly stderr: () => string
  /** "host:port" of the embedded node, when there is one. */
  readonly nodeAddress: string | undefined
  /** SIGTERM (a clean unmount) and wait for the exit; returns the exit code. */
  stop: () => Promise<number | null>
  /** SIGKILL, leaving whatever mount state that leaves. */
  kill: () => Promise<void>
}

/** Spawns `cfs mount DIR ...args` (node run with `nodeArgs`) and waits for its `mounted DIR` line. */
export async function spawnMount (s: Scratch, dir: string, args: string[], timeoutMs = 30_000, nodeArgs: string[] = []): Promise<MountProcess> {
  const child = spawn(process.execPath, [...nodeArgs, CFS_BIN, 'mount', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...s.env },
  })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-50_000) })
  const lines = createInterface({ input: child.stdout })
  const banner: string[] = []
  const exited = once(child, 'exit')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  try {
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line.startsWith('mounted ')) resolve()
        else banner.push(line)
      })
      exited.then(([code, signal]) => { reject(new Error(`cfs mount exited (${String(signal ?? code)}) before mounting:\n${stderr}`)) }, reject)
    })
  } finally {
    clearTimeout(timer)
  }
  const m = /listening on (\S+?)\)?$/.exec(banner.join('\n'))
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  return {
    process: child,
    dir,
    banner,
    stderr: () => stderr,
    nodeAddress: m?.[1],
    stop: async () => {
      if (alive()) {
        child.kill('SIGTERM')
        await exited
      }
      return child.exitCode
    },
    kill: async () => {
      if (alive()) {
        child.kill('SIGKILL')
        await exited
      }
    },
  }
}

/** "host:port" of a mount's HTTP endpoint (started with `--http`), from its `http metrics on` stderr line. */
export async function mountHttpAddress (m: MountProcess, timeoutMs = 5_000): Promise<string> {
  const until = Date.now() + timeoutMs
  while (true) {
    const found = /http metrics on http:\/\/(\S+)\/metrics/.exec(m.stderr())
    if (found !== null) return found[1] as string
    if (Date.now() > until) throw new Error(`no "http metrics on" line from the mount:\n${m.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Detaches whatever is mounted at `dir` (a dead mount after a SIGKILL); ignores "not mounted". */
export async function forceUnmount (dir: string): Promise<void> {
  await sh(`fusermount3 -uz ${JSON.stringify(dir)}`)
}

/** Writes a file and fsyncs it before closing: once this returns, the mount has published it. */
export async function writeSynced (path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, 'w')
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** fsync of a directory (fsyncdir): once this returns, the mount has published the tree. */
export async function fsyncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Milliseconds since `start`, rounded: for the timings the tests print. */
export function since (start: number): number {
  return Math.round(performance.now() - start)
}
