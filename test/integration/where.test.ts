import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WhereReport } from '../../src/node/index.js'
import { killDaemon, runCfs as cfs, spawnRing, type Daemon } from '../helpers/daemon.js'
import { waitForRing } from '../helpers/ring-settled.js'
import { waitFor } from '../helpers/poll.js'

/*
 * `cfs where` on four real `cfs node` processes (k = 3): every block of a file on 3 replicas;
 * after SIGKILL of a holder and stabilization, the blocks it held are on 2 of their 3 holders
 * ("2/3: repairing"); after a maintenance round, 3/3 again.
 *
 * Timing is tied to --repair-ms, not to luck: a node's first maintenance round comes no sooner
 * than 0.8 × --repair-ms after it starts (PeriodicTask, 20 % jitter), and nothing else copies a
 * block to a new holder (`cfs where` reads without repairing). So the test checks that it saw
 * "2/3" before the earliest round any survivor could have run, and then waits for the rounds.
 */

const REPAIR_MS = 20_000
const EARLIEST_ROUND_MS = REPAIR_MS * 0.8
const NODE_ARGS = ['--stabilize-ms', '100', '--repair-ms', String(REPAIR_MS)]

let nodes: Daemon[] = []
let work: string
let startedAt: number

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cfs-where-'))
  startedAt = Date.now()
  nodes = await spawnRing(4, NODE_ARGS)
}, 60_000)

afterAll(async () => {
  for (const n of nodes) await killDaemon(n)
  nodes = []
  await rm(work, { recursive: true, force: true })
})

describe('cfs where on four nodes, k = 3', () => {
  it('shows 3/3 for every block, 2/3 (repairing) for those of a killed holder, then 3/3 once repair ran', async () => {
    const key = join(work, 'owner.key')
    expect((await cfs(['keygen', key])).code).toBe(0)
    const file = join(work, 'data.bin')
    await writeFile(file, randomBytes(5 * 1024 * 1024 + 1000)) // 6 data blocks of 1 MiB under an indirect block
    const client = ['--key', key, '--data', join(work, 'client')]
    const put = await cfs(['put', file, '/data.bin', '--ring', (nodes[0] as Daemon).address, ...client])
    expect(put.code, put.stderr).toBe(0)
    expect(put.stderr).not.toMatch(/fewer replicas/)

    const where = async (ring: Daemon, path = '/data.bin'): Promise<WhereReport> => {
      const r = await cfs(['where', path, '--ring', ring.address, ...client, '--json'])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as WhereReport
    }
    const before = await where(nodes[0] as Daemon)
    expect(before).toMatchObject({ type: 'file', size: 5 * 1024 * 1024 + 1000, replicas: 3, health: 'ok', verdict: '3/3 replicas', complete: true })
    expect(before.blocks.map((b) => b.role)).toEqual(['root', 'record', 'inode', 'dir', 'inode', 'indirect', 'data', 'data', 'data', 'data', 'data', 'data'])
    for (const b of before.blocks) {
      expect(b.verdict).toBe('3/3 replicas')
      expect(new Set(b.holders.map((h) => h.address)).size).toBe(3) // distinct endpoints
      expect(b.holders.every((h) => h.answer === 'holds')).toBe(true)
    }
    const text = await cfs(['where', '/data.bin', '--ring', (nodes[1] as Daemon).address, ...client])
    expect(text.stdout.split('\n')[0]).toBe('/data.bin: 3/3 replicas (12 blocks: 12 at 3/3 replicas)')

    // Kill the node that holds the most blocks of the file.
    const held = (d: Daemon): number => before.blocks.filter((b) => b.holders.some((h) => h.address === d.address)).length
    const victim = [...nodes].sort((a, b) => held(b) - held(a))[0] as Daemon
    const survivors = nodes.filter((d) => d !== victim)
    await killDaemon(victim)
    await waitForRing(survivors)
    const after = await where(survivors[0] as Daemon)
    const seenMs = Date.now() - startedAt
    expect(seenMs, `saw the ring after the kill ${seenMs} ms after the first node started; a repair round may have run (--repair-ms ${REPAIR_MS})`)
      .toBeLessThan(EARLIEST_ROUND_MS)
    expect(after.health).toBe('repairing')
    expect(after.verdict).toBe('2/3: repairing')
    for (const [i, b] of after.blocks.entries()) {
      const had = before.blocks[i]?.holders.some((h) => h.address === victim.address) === true
      expect(b.key).toBe(before.blocks[i]?.key)
      expect(b.holders.some((h) => h.address === victim.address)).toBe(false)
      expect(b.verdict, `${b.role} ${b.key}`).toBe(had ? '2/3: repairing' : '3/3 replicas')
      if (had) expect(b.holders.filter((h) => h.answer === 'lacks').length).toBe(1)
    }
    expect(after.counts).toEqual({ ok: 12 - held(victim), repairing: held(victim), short: 0, lost: 0 })

    // The next maintenance rounds copy the blocks to their new holders.
    const { ms } = await waitFor('every block back on 3 replicas', async () => where(survivors[1] as Daemon), (r) => r.health === 'ok', 2.4 * REPAIR_MS + 10_000, 500)
    console.log(`cfs where: ${held(victim)} of 12 blocks at 2/3 seen ${seenMs} ms after start (earliest round ${EARLIEST_ROUND_MS} ms); 3/3 again ${ms} ms later`)
  }, 120_000)

  it('a past version by /.snapshots/<seq>/, and an unknown path fails as other commands do', async () => {
    const key = join(work, 'owner.key')
    const client = ['--key', key, '--data', join(work, 'client')]
    const ring = ['--ring', (nodes.find((d) => d.process.exitCode === null && d.process.signalCode === null) as Daemon).address]
    expect((await cfs(['mkdir', '/later', ...ring, ...client])).code).toBe(0)
    const r = await cfs(['where', '/.snapshots/1/data.bin', ...ring, ...client, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const old = JSON.parse(r.stdout) as WhereReport
    expect(old).toMatchObject({ treePath: '/data.bin', version: { seq: 1 }, type: 'file' })
    // The newer version's record comes first: a reader goes through it to reach version 1.
    expect(old.blocks.slice(0, 3).map((b) => b.role)).toEqual(['root', 'record', 'record'])
    expect(old.blocks[2]?.key).toBe(old.version.recordKey)
    const missing = await cfs(['where', '/nope', ...ring, ...client])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no such file or directory: \/nope/)
    const noVersion = await cfs(['where', '/.snapshots/99/data.bin', ...ring, ...client])
    expect(noVersion.code).toBe(1)
    expect(noVersion.stderr).toMatch(/no readable version 99/)
  })
})
