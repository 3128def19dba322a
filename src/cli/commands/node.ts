import type { Command } from 'commander'
import { runDaemon } from '../../node/index.js'
import { positiveInt } from '../options.js'

export function registerNode (program: Command): void {
  program.command('node')
    .description('run a storage node in the foreground; prints "ready <host:port> <id-hex>" once serving, leaves the ring on SIGTERM')
    .requiredOption('--listen <host:port>', 'address to listen on (port 0 picks a free port)')
    .option('--join <host:port>', 'any live node of the ring to join (omit to start a new ring)')
    .option('--data <dir>', 'data directory')
    .option('--vnodes <n>', 'virtual nodes on this endpoint', positiveInt, 1)
    .option('--stabilize-ms <ms>', 'milliseconds between stabilization rounds', positiveInt, 1000)
    .action(async (opts: { listen: string, join?: string, data?: string, vnodes: number, stabilizeMs: number }) => {
      await runDaemon({
        listen: opts.listen,
        join: opts.join,
        dataDir: opts.data,
        vnodes: opts.vnodes,
        chord: {
          stabilizeIntervalMs: opts.stabilizeMs,
          checkPredecessorIntervalMs: opts.stabilizeMs,
          fixFingersIntervalMs: opts.stabilizeMs * 5,
        },
      })
    })
}
