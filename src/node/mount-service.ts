import { execFile, spawn } from 'node:child_process'
import { open, mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { promisify } from 'node:util'
import { enableLogs, sleep, toHex } from '../core/index.js'
import { isAlive } from './pid-file.js'
import { findMountRecord, isCfsMounted, mountVolume, removeMountRecord, writeMountRecord, type MountVolumeInit } from './mount.js'

const run = promisify(execFile)

/** How often a mount checks that it is still mounted (an external `fusermount -u` is not reported). */
const WATCH_MS = 2_000
/** Milliseconds `cfs unmount` waits for the serving process to publish and exit. */
export const DEFAULT_UNMOUNT_TIMEOUT_MS = 120_000

/**
 * Serves a mount in the foreground: prints which blocks it uses ("embedded node at ..." or
 * "ring via ..."), then `mounted DIR` once the kernel has it. SIGINT or SIGTERM (or an
 * unmount from outside) publishes, unmounts and exits 0; a second signal exits at once.
 * Started by `--daemon`, it also tells its parent over IPC and lets go of it.
 */
export async function runMount (init: MountVolumeInit): Promise<void> {
  if (process.env.DEBUG === undefined) enableLogs(process.send === undefined ? 'cfs:*:error' : 'cfs:*,-cfs:*:trace')
  const m = await mountVolume(init)
  await writeMountRecord(m).catch((err: unknown) => { process.stderr.write(`cfs: could not record the mount: ${(err as Error).message}\n`) })
  const mode = m.readOnly
    ? `read-only, ${m.version === undefined ? 'following the latest version' : `version ${m.version.seq}`}`
    : 'read-write'
  process.stdout.write(`volume ${toHex(m.publicKey)} (${mode}) via ${m.description}\n`)
  // On stderr, as `cfs node` tells of its HTTP endpoint: stdout says only what is mounted.
  if (m.httpAddress !== undefined) process.stderr.write(`http metrics on http://${m.httpAddress}/metrics\n`)
  process.stdout.write(`mounted ${m.dir}\n`)
  if (process.send !== undefined) {
    process.send({ mounted: m.dir }, () => { process.disconnect() })
  }

  let stopping = false
  const stop = (why: string): void => {
    if (stopping) {
      process.stderr.write(`${why} again: exiting without a clean unmount\n`)
      process.exit(1)
    }
    stopping = true
    clearInterval(watch)
    process.stderr.write(`${why}: publishing and unmounting ${m.dir}\n`)
    m.close().then(async () => {
      await removeMountRecord(m.dir)
      process.stdout.write(`unmounted ${m.dir}\n`)
      process.exit(0)
    }, async (err: unknown) => {
      await removeMountRecord(m.dir)
      process.stderr.write(`cfs: unmount of ${m.dir} failed: ${(err as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGHUP', () => { stop('SIGHUP') })
  const watch = setInterval(() => {
    isCfsMounted(m.dir).then((yes) => { if (!yes && !stopping) stop('unmounted from outside') }, () => {})
  }, WATCH_MS)
}

/**
 * Starts `cfs mount ...args` detached, its output appended to `logFile`, and waits for it to
 * mount. Returns the pid of the serving process.
 */
export async function spawnMountDaemon (cliPath: string, args: readonly string[], logFile: string): Promise<number> {
  await mkdir(dirname(resolve(logFile)), { recursive: true })
  const log = await open(logFile, 'a')
  try {
    const child = spawn(process.execPath, [cliPath, 'mount', ...args], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd, 'ipc'],
    })
    const pid = child.pid
    if (pid === undefined) throw new Error('could not start the mount process')
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => { resolve() })
      child.once('exit', (code, signal) => { reject(new Error(`the mount process exited (${signal ?? code}) before mounting; see ${logFile}`)) })
      child.once('error', reject)
    })
    child.removeAllListeners('exit')
    child.unref()
    if (child.connected) child.disconnect()
    return pid
  } finally {
    await log.close()
  }
}

export interface UnmountOptions {
  /** Detach even if busy (fusermount -z) when no cfs process serves the mount. @default false */
  lazy?: boolean
  /** Milliseconds to wait for the serving process to publish and exit. @default DEFAULT_UNMOUNT_TIMEOUT_MS */
  timeoutMs?: number
}

/**
 * Unmounts `dir`: asks the serving process to publish and unmount (SIGTERM) and waits for it
 * to exit; a mount whose process is gone (killed) is detached with fusermount.
 */
export async function unmountDir (dir: string, options: UnmountOptions = {}): Promise<'stopped' | 'detached'> {
  const record = await findMountRecord(dir)
  if (record !== undefined) {
    process.kill(record.pid, 'SIGTERM')
    const until = Date.now() + (options.timeoutMs ?? DEFAULT_UNMOUNT_TIMEOUT_MS)
    while (await isAlive(record.pid)) {
      if (Date.now() > until) throw new Error(`the cfs process ${record.pid} serving ${dir} did not exit; it may still be publishing`)
      await sleep(100)
    }
    return 'stopped'
  }
  if (!await isCfsMounted(dir)) throw new Error(`${resolve(dir)} is not a cfs mount`)
  try {
    await run('fusermount3', [options.lazy === true ? '-uz' : '-u', resolve(dir)])
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? ''
    throw new Error(`fusermount3 could not unmount ${dir}: ${stderr.trim() || (err as Error).message}${options.lazy === true ? '' : ' (busy? try --lazy)'}`)
  }
  return 'detached'
}
