import { basename, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { BadRequestError } from '../../core/index.js'
import { DEFAULT_OP_TIMEOUT_MS, DEFAULT_POLL_INTERVAL_MS, DEFAULT_SYNC_TIMEOUT_MS, DEFAULT_PUBLISH_INTERVAL_MS, defaultDataDir, readKeyFile, readPublicKey, runMount, spawnMountDaemon } from '../../node/index.js'
import { positiveInt } from '../options.js'
import { access, accessOptions, minReplicasOption, type AccessOptions } from '../volume-options.js'

interface MountOptions extends AccessOptions {
  key?: string
  pubkey?: string
  version?: number
  publishMs: number
  listen?: string
  advertise?: string
  opTimeoutMs: number
  fsyncTimeoutMs: number
  minReplicas?: number
  syncOnClose?: boolean
  /** --refresh-ms: the poll for newer versions (pollIntervalMs). */
  refreshMs: number
  /** --no-watch: follow by polling only. */
  watch: boolean
  /** --no-journal: unpublished changes in memory only. */
  journal: boolean
  allowOther?: boolean
  autoUnmount: boolean
  daemon?: boolean
  logFile?: string
  debugFuse?: boolean
  http?: string
}

export function registerMount (program: Command): void {
  minReplicasOption(accessOptions(program.command('mount')))
    .description('mount a volume: your own read-write (--key), or anyone\'s read-only (--pubkey); prints "mounted DIR" once mounted, and publishes and unmounts on SIGINT/SIGTERM or `cfs unmount DIR`')
    .argument('<dir>', 'an empty directory to mount on')
    .option('--key <file>', 'the owner\'s key file: mount read-write')
    .option('--pubkey <hex|file>', 'a volume\'s public key: mount read-only, following its latest version')
    .option('--version <n>', 'with --pubkey: this version only (never changes, so the kernel may cache it)', positiveInt)
    .option('--publish-ms <ms>', 'read-write: publish changes within this many ms (fsync publishes at once)', positiveInt, DEFAULT_PUBLISH_INTERVAL_MS)
    .option('--listen <host:port>', 'without --ring: where the embedded node listens, so nodes on other machines can join it (default 127.0.0.1, a free port)')
    .option('--advertise <host:port>', 'without --ring: the address other machines reach the embedded node at, when not --listen')
    .option('--op-timeout-ms <ms>', 'an operation that cannot finish in this time (the ring unreachable) answers EIO', positiveInt, DEFAULT_OP_TIMEOUT_MS)
    .option('--fsync-timeout-ms <ms>', 'read-write: an fsync that cannot publish in this time answers EIO (the change waits)', positiveInt, DEFAULT_SYNC_TIMEOUT_MS)
    .option('--no-journal', 'read-write: keep unpublished changes in memory only, not in the journal under --data (an outage of the ring, a restart or a kill can then lose them)')
    .option('--sync-on-close', 'read-write: close of a written file also publishes before it returns, as fsync does')
    .option('--refresh-ms <ms>', 'read-only: look for a newer version this often', positiveInt, DEFAULT_POLL_INTERVAL_MS)
    .option('--no-watch', 'read-only: follow by polling only, instead of also being told of new versions by the nodes holding the root')
    .option('--allow-other', 'let other users use the mount (the kernel then checks permissions: default_permissions)')
    .option('--no-auto-unmount', 'leave a dead mount behind if the process is killed (the next mount clears it)')
    .option('--daemon', 'detach once mounted; output goes to --log-file')
    .option('--log-file <file>', 'with --daemon: where output goes (default: <data>/logs/mount-<dir>.log)')
    .option('--debug-fuse', 'libfuse\'s trace of every request, on stderr')
    .option('--http <host:port>', 'serve read-only HTTP: GET /metrics (Prometheus), and with an embedded node GET /status and /keys')
    .action(async (dir: string, opts: MountOptions) => {
      if ((opts.key === undefined) === (opts.pubkey === undefined)) throw new BadRequestError('say whose volume: --key FILE (read-write) or --pubkey HEX|FILE (read-only)')
      if (opts.version !== undefined && opts.pubkey === undefined) throw new BadRequestError('--version goes with --pubkey (a past version is read-only)')
      if ((opts.listen !== undefined || opts.advertise !== undefined) && opts.ring !== undefined) throw new BadRequestError('--listen and --advertise are for the embedded node: not with --ring')
      if (opts.daemon === true) {
        const logFile = resolve(opts.logFile ?? join(defaultDataDir(), 'logs', `mount-${basename(resolve(dir))}.log`))
        const at = process.argv.indexOf('mount')
        const args = process.argv.slice(at + 1).filter((a) => a !== '--daemon')
        const pid = await spawnMountDaemon(process.argv[1] as string, args, logFile)
        process.stdout.write(`mounted ${resolve(dir)} (pid ${pid}, log ${logFile})\n`)
        return
      }
      await runMount({
        dir,
        ...(opts.key === undefined ? {} : { key: await readKeyFile(opts.key) }),
        ...(opts.pubkey === undefined ? {} : { publicKey: await readPublicKey(opts.pubkey) }),
        ...(opts.version === undefined ? {} : { version: opts.version }),
        ...(await access(opts)),
        publishIntervalMs: opts.publishMs,
        ...(opts.listen === undefined ? {} : { listen: opts.listen }),
        ...(opts.advertise === undefined ? {} : { advertise: opts.advertise }),
        opTimeoutMs: opts.opTimeoutMs,
        syncTimeoutMs: opts.fsyncTimeoutMs,
        ...(opts.minReplicas === undefined ? {} : { minReplicas: opts.minReplicas }),
        syncOnClose: opts.syncOnClose === true,
        journal: opts.journal,
        pollIntervalMs: opts.refreshMs,
        watch: opts.watch,
        allowOther: opts.allowOther === true,
        autoUnmount: opts.autoUnmount,
        debug: opts.debugFuse === true,
        ...(opts.http === undefined ? {} : { http: opts.http }),
      })
    })
}
