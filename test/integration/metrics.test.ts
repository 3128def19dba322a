import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BlockKind, contentKey } from '../../src/dhash/index.js'
import { PromMetrics, connectRing } from '../../src/node/index.js'
import { killDaemon, runCfs as cfs, spawnRing, type Daemon } from '../helpers/daemon.js'
import { buckets, family, observations, parseMetrics, scrape, value, type Scrape } from '../helpers/prometheus.js'

// GET /metrics on real `cfs node --http` processes: scraped before and after the CLI puts and
// gets a tree, parsed with a Prometheus text parser, and the counters must have moved.

let nodes: Daemon[] = []
let work: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cfs-metrics-'))
  const args = ['--stabilize-ms', '100', '--repair-ms', '500', '--http', '127.0.0.1:0']
  nodes = await spawnRing(3, args)
}, 60_000)

afterAll(async () => {
  for (const n of nodes) await killDaemon(n)
  nodes = []
  await rm(work, { recursive: true, force: true })
})

/** Every node's /metrics. */
async function scrapeAll (): Promise<Scrape[]> {
  return Promise.all(nodes.map(async (n) => scrape(n.httpAddress as string)))
}

/** A counter or gauge summed over every node's scrape. */
function total (scrapes: Scrape[], name: string, labels: Record<string, string> = {}): number {
  return scrapes.reduce((a, s) => a + value(s, name, labels), 0)
}

describe('GET /metrics on cfs node --http', () => {
  it('is the Prometheus text format, and the counters move as the CLI puts, gets and looks up', async () => {
    const before = await scrapeAll()
    for (const s of before) {
      expect(family(s, 'cfs_chord_lookups_total').type).toBe('COUNTER')
      expect(family(s, 'cfs_dhash_stored_bytes').type).toBe('GAUGE')
      expect(family(s, 'cfs_chord_lookup_hops').type).toBe('HISTOGRAM')
      expect(value(s, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    }

    // A tree of 20 small files and one of 3 MiB, put through the ring and got back.
    const src = join(work, 'src')
    await mkdir(src, { recursive: true })
    for (let i = 0; i < 20; i++) await writeFile(join(src, `f${i}.txt`), `file ${i}\n`.repeat(i + 1))
    await writeFile(join(src, 'big.bin'), randomBytes(3 * 1024 * 1024))
    const key = join(work, 'owner.key')
    expect((await cfs(['keygen', key])).code).toBe(0)
    const ring = ['--ring', (nodes[1] as Daemon).address, '--key', key, '--data', join(work, 'client')]
    const put = await cfs(['put', src, '/tree', ...ring])
    expect(put.code, put.stderr).toBe(0)
    const got = await cfs(['get', '/tree', join(work, 'back'), ...ring])
    expect(got.code, got.stderr).toBe(0)
    const lookup = await cfs(['lookup', '--node', (nodes[0] as Daemon).address, 'some key'])
    expect(lookup.code, lookup.stderr).toBe(0)

    const after = await scrapeAll()
    // Puts arrive at primaries, which store and replicate; gets at holders.
    const puts = total(after, 'cfs_dhash_server_requests_total', { method: 'dhash.put', outcome: 'ok' })
    expect(puts).toBeGreaterThan(total(before, 'cfs_dhash_server_requests_total', { method: 'dhash.put', outcome: 'ok' }))
    expect(total(after, 'cfs_dhash_server_requests_total', { method: 'dhash.get', outcome: 'ok' }))
      .toBeGreaterThan(total(before, 'cfs_dhash_server_requests_total', { method: 'dhash.get', outcome: 'ok' }))
    expect(total(after, 'cfs_dhash_server_blocks_stored_total', { via: 'put' })).toBeGreaterThan(total(before, 'cfs_dhash_server_blocks_stored_total', { via: 'put' }))
    expect(total(after, 'cfs_dhash_server_blocks_stored_total', { via: 'store' })).toBeGreaterThan(total(before, 'cfs_dhash_server_blocks_stored_total', { via: 'store' }))
    expect(total(after, 'cfs_dhash_server_replications_total', { outcome: 'ok' })).toBeGreaterThan(0)
    // Every node holds a replica of (nearly) everything at k = 3 on 3 nodes: more than the 3 MiB file.
    for (const s of after) expect(value(s, 'cfs_dhash_stored_bytes')).toBeGreaterThan(3 * 1024 * 1024)
    expect(total(after, 'cfs_dhash_stored_blocks')).toBeGreaterThan(total(before, 'cfs_dhash_stored_blocks'))
    // The put latency histogram has buckets, cumulative, ending in +Inf with every observation.
    const served = after.find((s) => observations(s, 'cfs_dhash_server_request_duration_seconds', { method: 'dhash.put' }) > 0) as Scrape
    const b = buckets(served, 'cfs_dhash_server_request_duration_seconds', { method: 'dhash.put' })
    const bounds = Object.keys(b)
    expect(bounds.length).toBeGreaterThan(5)
    expect(bounds).toContain('+Inf')
    expect(b['+Inf']).toBe(observations(served, 'cfs_dhash_server_request_duration_seconds', { method: 'dhash.put' }))
    const counts = bounds.filter((x) => x !== '+Inf').sort((x, y) => Number(x) - Number(y)).map((x) => b[x] as number)
    expect(counts).toEqual([...counts].sort((x, y) => x - y))
    // `cfs lookup` runs a lookup on the node's vnode 0.
    const [was, now] = [before[0] as Scrape, after[0] as Scrape]
    expect(value(now, 'cfs_chord_lookups_total', { outcome: 'ok' })).toBeGreaterThan(value(was, 'cfs_chord_lookups_total', { outcome: 'ok' }))
    expect(observations(now, 'cfs_chord_lookup_hops')).toBe(value(now, 'cfs_chord_lookups_total', { outcome: 'ok' }))
  })

  it('counts maintenance rounds and the scrub as they run', async () => {
    const at = async (): Promise<number> => total(await scrapeAll(), 'cfs_dhash_repair_rounds_total', { outcome: 'ok' })
    const start = await at()
    await expect.poll(at, { timeout: 10_000 }).toBeGreaterThan(start + 2)
    const s = await scrapeAll()
    expect(total(s, 'cfs_dhash_scrub_blocks_total')).toBeGreaterThan(0)
    expect(total(s, 'cfs_dhash_scrub_bytes_total')).toBeGreaterThan(0)
    expect(total(s, 'cfs_dhash_repair_backlog')).toBe(0)
  })

  it('answers 404 with the paths it serves, and a client outside the ring counts its own lookups, puts and gets', async () => {
    const res = await fetch(`http://${(nodes[0] as Daemon).httpAddress}/nothing`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { paths: string[] }).paths).toContain('/metrics')

    const metrics = new PromMetrics({ processMetrics: false })
    const client = await connectRing({ ring: [(nodes[2] as Daemon).address] }, undefined, metrics)
    try {
      const bytes = randomBytes(4096)
      const key = contentKey(bytes)
      await client.blocks.put(BlockKind.CONTENT, key, bytes)
      expect(Buffer.from(await client.blocks.get(BlockKind.CONTENT, key)).equals(bytes)).toBe(true)
      const s = parseMetrics(await metrics.scrape())
      expect(value(s, 'cfs_dhash_client_puts_total', { kind: 'content', outcome: 'ok' })).toBe(1)
      expect(value(s, 'cfs_dhash_client_gets_total', { kind: 'content', outcome: 'ok' })).toBe(1)
      expect(observations(s, 'cfs_dhash_client_put_duration_seconds', { kind: 'content' })).toBe(1)
      expect(value(s, 'cfs_dhash_client_put_bytes_total')).toBe(4096)
      expect(value(s, 'cfs_chord_lookups_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1)
    } finally {
      await client.close()
    }
  })
})
