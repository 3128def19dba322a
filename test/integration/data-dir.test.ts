import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { access, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queryStatus } from '../../src/node/index.js'
import { CFS_BIN, isRunning, killDaemon, spawnDaemon, type Daemon } from '../helpers/daemon.js'

// A data directory belongs to one process at a time. A second `cfs node` (or any command with
// an embedded node) on it must name the holder and exit at once, with nothing left listening:
// it used to print "Database failed to open" and hang, its TCP listener already open.

/** Exit code for "another process has it" (STORE_LOCKED, ADDRESS_IN_USE): src/cli/main.ts. */
const IN_USE = 5
/** Far longer than a refused start takes (well under a second): only a hang reaches it. */
const EXIT_DEADLINE_MS = 20_000

interface Exited { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, ms: number }

const children = new Set<ChildProcess>()

/** Runs the CLI and waits for it to exit; past the deadline it is killed (by PID) and the test fails. */
async function runToExit (args: string[]): Promise<Exited> {
  const started = Date.now()
  const child = spawn(process.execPath, [CFS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const timer = setTimeout(() => { if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL') }, EXIT_DEADLINE_MS)
  try {
    const [code, signal] = await exited
    if (signal === 'SIGKILL') throw new Error(`cfs ${args.join(' ')} did not exit within ${EXIT_DEADLINE_MS} ms:\n${stderr}`)
    return { code, signal, stdout, stderr, ms: Date.now() - started }
  } finally {
    clearTimeout(timer)
    children.delete(child)
  }
}

let first: Daemon | undefined

beforeAll(async () => {
  first = await spawnDaemon(['--stabilize-ms', '200'])
})

afterAll(async () => {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      const gone = once(c, 'exit')
      process.kill(c.pid, 'SIGKILL')
      await gone
    }
  }
  if (first !== undefined) await killDaemon(first)
})

describe('a data directory in use', () => {
  it('the running node records its pid in the data directory', async () => {
    const d = first as Daemon
    expect(Number((await readFile(join(d.dataDir, 'cfs.pid'), 'utf8')).trim())).toBe(d.process.pid)
  })

  it('a second `cfs node` on it exits at once, non-zero, naming the holder pid', async () => {
    const d = first as Daemon
    const second = await runToExit(['node', '--listen', '127.0.0.1:0', '--data', d.dataDir])
    expect(second.code, second.stderr).toBe(IN_USE)
    expect(second.stdout).toBe('') // never printed `ready`
    expect(second.stderr).toContain(`process ${String(d.process.pid)}`)
    // The first node is unharmed, and still owns the directory.
    expect(isRunning(d)).toBe(true)
    expect((await queryStatus(d.address)).address).toBe(d.address)
    expect(Number((await readFile(join(d.dataDir, 'cfs.pid'), 'utf8')).trim())).toBe(d.process.pid)
  })

  it('a command whose embedded node would use it exits the same way', async () => {
    // A command's --data DIR keeps its embedded node in DIR/node.
    const data = await mkdtemp(join(tmpdir(), 'cfs-data-'))
    const holder = await spawnDaemon([], 20_000, { dataDir: join(data, 'node') })
    try {
      const ls = await runToExit(['ls', '/', '--pubkey', 'ab'.repeat(32), '--data', data])
      expect(ls.code, ls.stderr).toBe(IN_USE)
      expect(ls.stderr).toContain(`process ${String(holder.process.pid)}`)
    } finally {
      await killDaemon(holder)
      await rm(data, { recursive: true, force: true })
    }
  })

  it('a node refused its listen address exits at once and lets go of its own data directory', async () => {
    const d = first as Daemon
    const dir = await mkdtemp(join(tmpdir(), 'cfs-node-'))
    try {
      const taken = await runToExit(['node', '--listen', d.address, '--data', dir])
      expect(taken.code, taken.stderr).toBe(IN_USE)
      await expect(access(join(dir, 'cfs.pid'))).rejects.toMatchObject({ code: 'ENOENT' })
      // Nothing of the refused node holds the directory: a node starts on it.
      const next = await spawnDaemon([], 20_000, { dataDir: dir })
      await killDaemon(next)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
