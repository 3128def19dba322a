import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sleep } from '../core/index.js'

/**
 * `<data dir>/cfs.pid`: the pid of the process that holds the data directory (a node, a mount,
 * or a command's embedded node), so a second one can say who has it.
 *
 * Written only by the process that has just taken the replica store's LevelDB lock, and
 * removed by it before it lets go, so no two processes ever write it at once. It is read only
 * by a process that was refused that lock, so a file left behind by a killed holder (whose lock
 * the kernel released) is never believed: the next holder overwrites it.
 */
export const PID_FILE = 'cfs.pid'
/** How long readPidFile waits for a lock holder to write its pid. */
export const DEFAULT_PID_WAIT_MS = 1_000

export async function writePidFile (dataDir: string): Promise<void> {
  await writeFile(join(dataDir, PID_FILE), `${process.pid}\n`)
}

export async function removePidFile (dataDir: string): Promise<void> {
  await rm(join(dataDir, PID_FILE), { force: true })
}

/**
 * The live process named by the data directory's pid file, or undefined. The holder writes the
 * file just after it takes the lock, so a refused process that arrives in between waits up to
 * `waitMs` for it.
 */
export async function readPidFile (dataDir: string, waitMs = DEFAULT_PID_WAIT_MS): Promise<number | undefined> {
  const until = Date.now() + waitMs
  for (;;) {
    const text = await readFile(join(dataDir, PID_FILE), 'utf8').catch(() => '')
    const pid = Number(text.trim())
    if (Number.isSafeInteger(pid) && pid > 0 && await isAlive(pid)) return pid
    if (Date.now() >= until) return undefined
    await sleep(50)
  }
}

/** Whether the process runs (a zombie, exited but not yet reaped by its parent, does not). */
export async function isAlive (pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  // "pid (comm) S ...": the state follows the last ')'.
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
}
