import type { Command } from 'commander'
import { where, type WhereBlock, type WhereReport } from '../../node/index.js'
import { access, cfsPath, readOptions, volumeKey, type ReadOptions } from '../volume-options.js'

/** A path's own blocks (inode, indirect, data, entry nodes) listed without --blocks; the rest are counted. */
export const DEFAULT_LISTED_BLOCKS = 16

export function registerWhere (program: Command): void {
  readOptions(program.command('where'))
    .description('the blocks of a file or directory, the nodes that should hold each, and which do')
    .argument('<cfs-path>', 'file or directory; /.snapshots/<seq>/... for a past version, as in a mount')
    .option('--blocks', `list every block (default: the first ${DEFAULT_LISTED_BLOCKS} of the path's own, the rest counted)`)
    .option('--json', 'print the whole report as JSON')
    .action(async (p: string, opts: ReadOptions & { blocks?: boolean, json?: boolean }) => {
      const report = await where({
        publicKey: await volumeKey(opts), path: cfsPath(p), ...(await access(opts)), ...(opts.version === undefined ? {} : { version: opts.version }),
      })
      process.stdout.write(opts.json === true ? JSON.stringify(report) + '\n' : formatWhere(report, opts.blocks === true ? Infinity : DEFAULT_LISTED_BLOCKS))
    })
}

/**
 * The report as text: the verdict line, what was looked at, then one line per block (verdict,
 * role, key, size, what it is, its holders), with at most `listed` of the path's own blocks.
 */
export function formatWhere (r: WhereReport, listed: number): string {
  const lines = [`${r.path}: ${r.verdict} (${r.blocks.length} blocks: ${countsText(r.blocks)})`]
  const what = r.type === undefined
    ? 'not reached'
    : r.type === 'file' ? `file of ${r.size ?? 0} bytes` : r.type === 'dir' ? `directory of ${r.size ?? 0} entries` : r.type
  lines.push(`version ${r.version.seq} (${new Date(r.version.timeMs).toISOString()}) of ${r.publicKey}, ${what}, ${r.replicas} replicas wanted`)
  if (!r.complete) lines.push('a block could not be read: the blocks below it are not listed')
  let own = 0
  const shown: WhereBlock[] = []
  const hidden: WhereBlock[] = []
  for (const b of r.blocks) {
    if (b.part === 'self' && own++ >= listed) hidden.push(b)
    else shown.push(b)
  }
  const rows = shown.map((b) => [b.verdict, b.role, b.key, sizeText(b), describe(b), holdersText(b)])
  const widths = rows.reduce((w, row) => row.map((c, i) => Math.max(w[i] ?? 0, c.length)), [] as number[])
  for (const row of rows) lines.push(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ').trimEnd())
  if (hidden.length > 0) lines.push(`... ${hidden.length} more of ${r.treePath}'s blocks: ${countsText(hidden)} (--blocks lists them)`)
  return lines.join('\n') + '\n'
}

/** "5 at 3/3 replicas, 1 at 2/3: repairing", worst last. */
function countsText (blocks: readonly WhereBlock[]): string {
  const by = new Map<string, { n: number, have: number }>()
  for (const b of blocks) by.set(b.verdict, { n: (by.get(b.verdict)?.n ?? 0) + 1, have: b.have })
  return [...by].sort((a, b) => b[1].have - a[1].have).map(([v, { n }]) => `${n} at ${v}`).join(', ')
}

function sizeText (b: WhereBlock): string {
  if (b.bytes !== undefined) return `${b.bytes} B`
  if (b.length !== undefined) return `≤${b.length} B` // data: trailing zeros are not stored
  return '-'
}

function describe (b: WhereBlock): string {
  const level = b.level === undefined ? '' : ` (level ${b.level})`
  const missing = b.unreadable === true ? ', unreadable' : ''
  switch (b.role) {
    case 'root': return 'signed root'
    case 'record': return `root record${missing}`
    case 'inode': return `inode of ${b.of}${missing}`
    case 'dir': return `entries of ${b.of}${level}${missing}`
    case 'links': return `inode table${level}${missing}`
    case 'indirect': return `indirect of ${b.of}${level}${missing}`
    case 'data': return `data of ${b.of} #${b.index ?? 0} (bytes ${b.offset ?? 0}+${b.length ?? 0})`
  }
}

function holdersText (b: WhereBlock): string {
  return b.holders.map((h) => `${h.address} ${h.answer === 'holds' ? 'has' : h.answer}${h.answer === 'error' ? ` (${h.error ?? ''})` : ''}`).join(', ')
}
