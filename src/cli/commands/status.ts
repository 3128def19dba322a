import type { Command } from 'commander'
import { queryStatus, type NodeStatus, type PeerStatus } from '../../node/index.js'

export function registerStatus (program: Command): void {
  program.command('status')
    .description('print a node\'s id, predecessor, successor list, fingers and block storage')
    .requiredOption('--node <host:port>', 'the node to ask')
    .option('--json', 'print JSON')
    .action(async (opts: { node: string, json?: boolean }) => {
      const status = await queryStatus(opts.node)
      process.stdout.write(opts.json === true ? JSON.stringify(status) + '\n' : formatStatus(status))
    })
}

const short = (p: PeerStatus | null): string => (p === null ? '-' : `${p.id.slice(0, 16)} ${p.address}/${p.vnode}`)

export function formatStatus (s: NodeStatus): string {
  const lines = [`node ${s.address} (${s.vnodes.length} vnode${s.vnodes.length === 1 ? '' : 's'})`]
  const b = s.blocks
  if (b !== undefined) {
    const r = b.lastRepair
    lines.push(`blocks  ${b.store.blocks} stored, ${b.store.bytes} bytes, k = ${b.replicas}, ${b.corruptDropped} corrupt cop${b.corruptDropped === 1 ? 'y' : 'ies'} dropped`)
    lines.push(`cache   ${b.cache.entries} entries, ${b.cache.bytes} bytes, hit rate ${(b.cache.hitRate * 100).toFixed(1)}% (${b.cache.hits}/${b.cache.hits + b.cache.misses})`)
    lines.push(r === undefined
      ? 'repair  not run yet'
      : `repair  last ${new Date(r.finishedAt).toISOString()} (${r.durationMs} ms): pushed ${r.pushed}, pulled ${r.pulled}, handed off ${r.handedOff}, expired ${r.collected}, backlog ${r.backlog}, scrubbed ${r.scrubbed} (${r.corrupt} corrupt)`)
  }
  for (const v of s.vnodes) {
    lines.push(`vnode ${v.vnode}  id ${v.id}`)
    lines.push(`  predecessor  ${short(v.predecessor)}`)
    v.successors.forEach((p, i) => { lines.push(`  successor ${String(i + 1).padStart(2)} ${short(p)}`) })
    for (const f of v.fingers) lines.push(`  finger ${String(f.index).padStart(3)}   ${short(f)}`)
  }
  return lines.join('\n') + '\n'
}
