import type { Command } from 'commander'
import { hashKey, keyFromHex } from '../../core/index.js'
import { queryLookup } from '../../node/index.js'
import { linkFrom, linkOption, type LinkOptions } from '../volume-options.js'

export function registerLookup (program: Command): void {
  linkOption(program.command('lookup'))
    .description('ask a node for the successor of a key (64 hex digits, or any text, which is hashed)')
    .requiredOption('--node <host:port>', 'the node to ask')
    .argument('<key>', 'key in hex, or text to hash')
    .option('--json', 'print JSON')
    .action(async (key: string, opts: { node: string, json?: boolean } & LinkOptions) => {
      const k = /^[0-9a-fA-F]{64}$/.test(key) ? keyFromHex(key) : hashKey(key)
      const link = await linkFrom(opts)
      const r = await queryLookup(opts.node, k, link === undefined ? {} : { link })
      process.stdout.write(opts.json === true
        ? JSON.stringify(r) + '\n'
        : `successor ${r.successor.id} ${r.successor.address}/${r.successor.vnode} (${r.hops} hops)\n`)
    })
}
