import type { Command } from 'commander'
import {
  DEFAULT_MAX_LEASE_MS, DEFAULT_MAX_WATCHERS_PER_ROOT, DEFAULT_REPAIR_INTERVAL_MS, DEFAULT_REPLICAS, DEFAULT_STABILIZE_INTERVAL_MS, DEFAULT_VNODES, runDaemon,
} from '../../node/index.js'
import { nonNegativeInt, positiveInt } from '../options.js'
import { linkFrom, linkOption } from '../volume-options.js'

interface NodeOptions {
  listen: string
  advertise?: string
  join?: string
  data?: string
  vnodes: number
  stabilizeMs: number
  replicas: number
  repairMs: number
  maxLeaseMs: number
  quotaOwnerMb?: string
  quotaSourceMb?: string
  maxStorageMb?: string
  maxWatchersPerRoot: number
  http?: string
  ringSecret?: string
}

export function registerNode (program: Command): void {
  linkOption(program.command('node'))
    .description('run a storage node in the foreground; prints "ready <host:port> <id-hex>" once serving, leaves the ring on SIGTERM')
    .requiredOption('--listen <host:port>', 'address to listen on (port 0 picks a free port)')
    .option('--advertise <host:port>', 'the address peers reach this node at, when not --listen (e.g. --listen 0.0.0.0:7000 --advertise 192.0.2.7:7000); node ids derive from it')
    .option('--join <host:port>', 'any live node of the ring to join (omit to start a new ring)')
    .option('--data <dir>', 'data directory')
    .option('--vnodes <n>', 'virtual nodes on this endpoint', positiveInt, DEFAULT_VNODES)
    .option('--stabilize-ms <ms>', 'milliseconds between stabilization rounds', positiveInt, DEFAULT_STABILIZE_INTERVAL_MS)
    .option('--replicas <k>', 'replicas per block (k)', positiveInt, DEFAULT_REPLICAS)
    .option('--repair-ms <ms>', 'milliseconds between block maintenance rounds', positiveInt, DEFAULT_REPAIR_INTERVAL_MS)
    .option('--max-lease-ms <ms>', 'longest block lease granted', positiveInt, DEFAULT_MAX_LEASE_MS)
    .option('--quota-owner-mb <mb>', 'MiB one publishing key may store here')
    .option('--quota-source-mb <mb>', 'MiB one client may put here per hour, counted per identity and per address')
    .option('--max-storage-mb <mb>', 'MiB of replicas this node holds at most')
    .option('--max-watchers-per-root <n>', 'readers one root may have waiting here for its next version; more are told to poll (0: none)', nonNegativeInt, DEFAULT_MAX_WATCHERS_PER_ROOT)
    .option('--http <host:port>', 'serve read-only HTTP: status JSON (GET /status, /keys) and Prometheus metrics (GET /metrics)')
    .action(async (opts: NodeOptions) => {
      const mib = (v: string | undefined): number | undefined => (v === undefined ? undefined : positiveInt(v) * 1024 * 1024)
      await runDaemon({
        listen: opts.listen,
        ...(opts.advertise === undefined ? {} : { advertise: opts.advertise }),
        join: opts.join,
        dataDir: opts.data,
        link: await linkFrom(opts),
        vnodes: opts.vnodes,
        http: opts.http,
        dhash: {
          replicas: opts.replicas,
          repairIntervalMs: opts.repairMs,
          maxLeaseMs: opts.maxLeaseMs,
          maxBytesPerOwner: mib(opts.quotaOwnerMb),
          maxBytesPerSource: mib(opts.quotaSourceMb),
          maxStorageBytes: mib(opts.maxStorageMb),
          maxWatchersPerRoot: opts.maxWatchersPerRoot,
        },
        chord: {
          stabilizeIntervalMs: opts.stabilizeMs,
          checkPredecessorIntervalMs: opts.stabilizeMs,
          fixFingersIntervalMs: opts.stabilizeMs * 5,
        },
      })
    })
}
