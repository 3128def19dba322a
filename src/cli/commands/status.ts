import type { Command } from 'commander'
import { isCfsError } from '../../core/index.js'
import { linkFrom, linkOption, type LinkOptions } from '../volume-options.js'
import { listJournals, queryRing, queryStatus, type JournalState, type NodeStatus, type PeerStatus, type RingSnapshot } from '../../node/index.js'

export function registerStatus (program: Command): void {
  linkOption(program.command('status'))
    .description('print the ring\'s health (nodes live and failed, blocks, repair, volumes) and the node\'s id, predecessor, successor list, fingers and block storage; ' +
      'and the changes owner mounts on this machine have not published yet (their journals under --data)')
    .option('--node <host:port>', 'the node to ask (without it: only the journals)')
    .option('--data <dir>', 'the cfs data directory whose journals to show (default $CFS_DATA, else $XDG_DATA_HOME/cfs, else ~/.local/share/cfs)')
    .option('--json', 'print the node\'s status as JSON (no ring walk)')
    .action(async (opts: { node?: string, data?: string, json?: boolean } & LinkOptions) => {
      if (opts.node === undefined) {
        process.stdout.write(formatJournals(await listJournals(opts.data)))
        return
      }
      const link = await linkFrom(opts)
      const status = await queryStatus(opts.node, link === undefined ? {} : { link })
      if (opts.json === true) {
        process.stdout.write(JSON.stringify(status) + '\n')
        return
      }
      let health: string
      try {
        health = formatHealth(await queryRing(opts.node, link === undefined ? {} : { link }))
      } catch (err) {
        // The node answered its status: print that, and say why the ring is missing.
        if (!isCfsError(err)) throw err
        health = `ring    not available: ${err.message}\n`
      }
      process.stdout.write(health + formatVolumes(status) + formatStatus(status) + formatJournals(await listJournals(opts.data)))
    })
}

/** What waits in the owner journals of this machine's data directory. */
export function formatJournals (journals: readonly JournalState[]): string {
  const waiting = journals.filter((j) => j.changes > 0)
  const lines = [`unpublished changes in journals here: ${waiting.length === 0 ? 'none' : plural(waiting.length, 'volume')}`]
  if (waiting.length > 0) {
    lines.push(...table([['volume (public key)', 'changes', 'since', 'blocks', 'on version', 'kept by'], ...waiting.map((j) => [
      j.volume.slice(0, 16), String(j.changes), time(j.since ?? null), formatBytes(j.blockBytes), String(j.baseSeq),
      j.keptBy === undefined ? 'no mount (published at its next start)' : `mount, pid ${j.keptBy}`,
    ])], new Set([1, 3, 4])))
  }
  return lines.join('\n') + '\n'
}

const short = (p: PeerStatus | null): string => (p === null ? '-' : `${p.id.slice(0, 16)} ${p.address}/${p.vnode}`)
const time = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString())
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`

/** 1536 → "1.5 KiB". */
export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`
}

function table (rows: string[][], right: ReadonlySet<number>): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  return rows.map((r) => '  ' + r.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd())
}

/**
 * The health summary the dashboard shows (GET / on `--http`): nodes live and failed with each
 * one's share of the ring, blocks, bytes, under-replicated keys, repair backlog, and the last
 * repair (or, for a failed node, when it was last seen).
 */
export function formatHealth (ring: RingSnapshot): string {
  const s = ring.summary
  const lines = [
    `ring    ${s.live} live, ${s.failed} failed (${plural(s.vnodes, 'vnode')}); ${s.blocks} blocks, ${formatBytes(s.bytes)}; ` +
    `${s.underReplicated} under-replicated, backlog ${s.backlog}; ${plural(s.volumes, 'volume')} (walked from ${ring.from})`,
  ]
  const rows = [['node', 'state', 'vnodes', 'owns', 'blocks', 'bytes', 'under-repl', 'backlog', 'last repair / last seen']]
  const n = (v: number | null): string => (v === null ? '-' : String(v))
  for (const node of ring.nodes) {
    const live = node.state === 'live'
    rows.push([
      node.address, node.state, String(node.vnodes), live ? `${(node.owns * 100).toFixed(1)}%` : '-',
      n(node.blocks), node.bytes === null ? '-' : formatBytes(node.bytes), n(node.underReplicated), n(node.backlog),
      live ? time(node.lastRepairAt) : `last seen ${node.lastSeen === null ? 'never' : time(node.lastSeen)}`,
    ])
  }
  lines.push(...table(rows, new Set([2, 3, 4, 5, 6, 7])))
  return lines.join('\n') + '\n'
}

/** The volume roots a node holds, with sequence numbers and publication times. */
export function formatVolumes (status: NodeStatus): string {
  const volumes = status.volumes ?? []
  const lines = [`volumes held by ${status.address}: ${volumes.length}`]
  if (volumes.length > 0) {
    lines.push(...table([['owner (public key)', 'seq', 'published', 'root key'], ...volumes.map((v) => [v.owner, String(v.seq), time(v.publishedAt), v.key.slice(0, 16)])], new Set([1])))
  }
  return lines.join('\n') + '\n'
}

export function formatStatus (s: NodeStatus): string {
  const lines = [`node ${s.address} (${plural(s.vnodes.length, 'vnode')})`]
  const b = s.blocks
  if (b !== undefined) {
    const r = b.lastRepair
    lines.push(`blocks  ${b.store.blocks} stored, ${b.store.bytes} bytes, k = ${b.replicas}, ${b.corruptDropped} corrupt cop${b.corruptDropped === 1 ? 'y' : 'ies'} dropped`)
    lines.push(`cache   ${b.cache.entries} entries, ${b.cache.bytes} bytes, hit rate ${(b.cache.hitRate * 100).toFixed(1)}% (${b.cache.hits}/${b.cache.hits + b.cache.misses})`)
    lines.push(r === undefined
      ? 'repair  not run yet'
      : `repair  last ${new Date(r.finishedAt).toISOString()} (${r.durationMs} ms): pushed ${r.pushed}, pulled ${r.pulled}, handed off ${r.handedOff}, expired ${r.collected}, ` +
        `under-replicated ${r.underReplicated}, backlog ${r.backlog}, scrubbed ${r.scrubbed} (${r.corrupt} corrupt)`)
  }
  for (const v of s.vnodes) {
    lines.push(`vnode ${v.vnode}  id ${v.id}`)
    lines.push(`  predecessor  ${short(v.predecessor)}`)
    v.successors.forEach((p, i) => { lines.push(`  successor ${String(i + 1).padStart(2)} ${short(p)}`) })
    for (const f of v.fingers) lines.push(`  finger ${String(f.index).padStart(3)}   ${short(f)}`)
  }
  return lines.join('\n') + '\n'
}
