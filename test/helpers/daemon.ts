import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const CFS_BIN = fileURLToPath(new URL('../../bin/cfs', import.meta.url))

/** A `cfs node` child process: its address and id come from its one `ready` line. */
export interface Daemon {
  readonly process: ChildProcess
  readonly address: string
  readonly id: string
  readonly dataDir: string
  stderr: string
}

/** Spawns `cfs node --listen 127.0.0.1:0 ...args` with its own data directory and waits for `ready`. */
export async function spawnDaemon (args: string[] = [], timeoutMs = 20_000): Promise<Daemon> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cfs-node-'))
  const child = spawn(process.execPath, [CFS_BIN, 'node', '--listen', '127.0.0.1:0', '--data', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-20_000) })
  const lines = createInterface({ input: child.stdout })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  try {
    const [line] = await Promise.race([
      once(lines, 'line') as Promise<[string]>,
      once(child, 'exit').then(() => { throw new Error(`cfs node exited before ready:\n${stderr}`) }),
    ])
    const m = /^ready (\S+) ([0-9a-f]{64})$/.exec(line)
    if (m === null) throw new Error(`unexpected first line: ${line}`)
    const d: Daemon = { process: child, address: m[1] as string, id: m[2] as string, dataDir, get stderr () { return stderr }, set stderr (_v) {} }
    return d
  } finally {
    clearTimeout(timer)
  }
}

/** Kills by PID (SIGKILL unless told otherwise), waits for the exit, removes the data directory. */
export async function killDaemon (d: Daemon, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (d.process.exitCode === null && d.process.signalCode === null) {
    const exited = once(d.process, 'exit')
    d.process.kill(signal)
    await exited
  }
  await rm(d.dataDir, { recursive: true, force: true })
}
