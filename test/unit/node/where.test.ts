import { describe, expect, it } from 'vitest'
import { isCfsError } from '../../../src/core/index.js'
import { makeNodeRef } from '../../../src/chord/index.js'
import { replicaHealth, type HolderAnswer } from '../../../src/dhash/index.js'
import { snapshotRoute, verdictOf, worstBlock, type WhereBlock, type WhereReport } from '../../../src/node/index.js'
import { formatWhere } from '../../../src/cli/commands/where.js'
import { thrown } from '../../helpers/thrown.js'

/** A check of one block: its holders' answers, k = 3 unless fewer holders are given. */
function check (...answers: HolderAnswer[]): Parameters<typeof verdictOf>[0] {
  const holders = answers.map((answer, i) => ({ node: makeNodeRef(`10.0.0.${i + 1}:1`), answer }))
  const have = answers.filter((a) => a === 'holds').length
  return { have, wanted: 3, holders, health: replicaHealth(have, holders.length, 3) }
}

describe('verdictOf', () => {
  it('says how many of k hold the block, and what that means', () => {
    expect(verdictOf(check('holds', 'holds', 'holds'))).toEqual({ health: 'ok', verdict: '3/3 replicas' })
    expect(verdictOf(check('holds', 'lacks', 'holds'))).toEqual({ health: 'repairing', verdict: '2/3: repairing' })
    expect(verdictOf(check('unreachable', 'holds', 'holds'))).toEqual({ health: 'repairing', verdict: '2/3: repairing' })
    expect(verdictOf(check('lacks', 'unreachable', 'error'))).toEqual({ health: 'lost', verdict: '0/3: lost' })
    expect(verdictOf(check('holds'))).toEqual({ health: 'short', verdict: '1/3: the ring has 1 node' })
    expect(verdictOf(check('holds', 'holds'))).toEqual({ health: 'short', verdict: '2/3: the ring has 2 nodes' })
  })

  it('a block no node gave is lost, whatever its holders answer', () => {
    expect(verdictOf(check('lacks', 'lacks', 'lacks'), true)).toEqual({ health: 'lost', verdict: '0/3: lost' })
    expect(verdictOf(check('holds', 'lacks', 'lacks'), true)).toEqual({ health: 'lost', verdict: '1/3: unreadable' })
  })
})

describe('worstBlock', () => {
  it('fewest copies first, then lost before repairing before short', () => {
    expect(worstBlock([{ have: 3, health: 'ok' }, { have: 2, health: 'repairing' }, { have: 3, health: 'ok' }])).toEqual({ have: 2, health: 'repairing' })
    expect(worstBlock([{ have: 2, health: 'short' }, { have: 2, health: 'repairing' }])).toEqual({ have: 2, health: 'repairing' })
    expect(worstBlock([{ have: 1, health: 'repairing' }, { have: 1, health: 'lost' }])).toEqual({ have: 1, health: 'lost' })
    expect(worstBlock([])).toBeUndefined()
  })
})

describe('snapshotRoute', () => {
  it('a path under /.snapshots/<name>/ is a path of that version, as in a mount', () => {
    expect(snapshotRoute('/a/b')).toEqual({ treePath: '/a/b' })
    expect(snapshotRoute('/.snapshotsx/a')).toEqual({ treePath: '/.snapshotsx/a' })
    expect(snapshotRoute('/.snapshots/7')).toEqual({ version: '7', treePath: '/' })
    expect(snapshotRoute('/.snapshots/7/a/b')).toEqual({ version: '7', treePath: '/a/b' })
    expect(snapshotRoute('/.snapshots/2025-11-21T22:35:10.123Z/a')).toEqual({ version: '2025-11-21T22:35:10.123Z', treePath: '/a' })
    expect(isCfsError(thrown(() => snapshotRoute('/.snapshots')), 'BAD_REQUEST')).toBe(true)
  })
})

describe('formatWhere', () => {
  const holders = (answers: HolderAnswer[]): WhereBlock['holders'] => answers.map((answer, i) => ({ address: `10.0.0.${i + 1}:1`, id: 'ab'.repeat(32), vnode: 0, answer }))
  const block = (role: WhereBlock['role'], part: WhereBlock['part'], answers: HolderAnswer[], extra: Partial<WhereBlock> = {}): WhereBlock => {
    const c = check(...answers)
    return { key: 'cd'.repeat(32), kind: role === 'root' ? 'root' : 'content', role, part, of: '/f', bytes: 100, holders: holders(answers), have: c.have, wanted: 3, ...verdictOf(c), ...extra }
  }
  const ok: HolderAnswer[] = ['holds', 'holds', 'holds']
  const data = (i: number, answers: HolderAnswer[] = ok): WhereBlock => {
    const { bytes: _, ...b } = block('data', 'self', answers, { index: i, offset: i * 1024, length: 1024 })
    return b
  }
  const report: WhereReport = {
    path: '/f', treePath: '/f', publicKey: 'ef'.repeat(32), version: { seq: 4, timeMs: 0, recordKey: '01'.repeat(32) }, type: 'file', size: 40 * 1024,
    replicas: 3, health: 'repairing', verdict: '2/3: repairing', counts: { ok: 42, repairing: 2, short: 0, lost: 0 }, complete: true,
    blocks: [
      block('root', 'path', ok), block('record', 'path', ok), block('inode', 'self', ['holds', 'lacks', 'holds']), block('indirect', 'self', ok, { level: 1 }),
      ...Array.from({ length: 40 }, (_, i) => data(i, i === 30 ? ['unreachable', 'holds', 'holds'] : ok)),
    ],
  }

  it('starts with the verdict line; lists the way down, then the first blocks of the path and counts the rest', () => {
    const lines = formatWhere(report, 16).trimEnd().split('\n')
    expect(lines[0]).toBe('/f: 2/3: repairing (44 blocks: 42 at 3/3 replicas, 2 at 2/3: repairing)')
    expect(lines[1]).toMatch(/^version 4 \(1970-01-01T00:00:00.000Z\) of (ef){32}, file of 40960 bytes, 3 replicas wanted$/)
    const rows = lines.slice(2, -1)
    expect(rows.length).toBe(2 + 16)
    expect(rows[2]).toMatch(/^2\/3: repairing +inode +(cd){32} +100 B +inode of \/f +10\.0\.0\.1:1 has, 10\.0\.0\.2:1 lacks, 10\.0\.0\.3:1 has$/)
    expect(rows[4]).toMatch(/data +(cd){32} +≤1024 B +data of \/f #0 \(bytes 0\+1024\)/)
    expect(lines.at(-1)).toBe('... 26 more of /f\'s blocks: 25 at 3/3 replicas, 1 at 2/3: repairing (--blocks lists them)')
  })

  it('lists every block when told', () => {
    const lines = formatWhere(report, Infinity).trimEnd().split('\n')
    expect(lines.length).toBe(2 + 44)
    expect(lines.some((l) => l.includes('#30') && l.includes('10.0.0.1:1 unreachable'))).toBe(true)
  })
})
