import { describe, expect, it } from 'vitest'
import { NO_METRICS } from '../../../src/core/index.js'
import { BlockKind, MemoryBlockCache, MemoryBlockStore, contentKey } from '../../../src/dhash/index.js'
import { Volume } from '../../../src/fs/index.js'
import { CfsFuse } from '../../../src/fuse/index.js'
import { FramePool, MemoryNetwork } from '../../../src/net/index.js'
import { CfsNode, PromMetrics } from '../../../src/node/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { buckets, family, observations, parseMetrics, value } from '../../helpers/prometheus.js'

// The metrics port (core/metrics.ts) on prom-client (node/metrics.ts), and the layers counting
// into it. Every exposition is read back through a Prometheus text parser.

const scraped = async (m: PromMetrics): Promise<ReturnType<typeof parseMetrics>> => parseMetrics(await m.scrape())

describe('PromMetrics', () => {
  it('counters, gauges and histograms, with and without labels, in the text format', async () => {
    const m = new PromMetrics({ processMetrics: false })
    const plain = m.counter({ name: 'cfs_test_things_total', help: 'things' })
    plain.inc()
    plain.inc(4)
    const byKind = m.counter({ name: 'cfs_test_puts_total', help: 'puts', labelNames: ['kind', 'outcome'] })
    const contentOk = byKind.labels('content', 'ok')
    contentOk.inc()
    contentOk.inc()
    byKind.labels('root', 'failed').inc()
    const g = m.gauge({ name: 'cfs_test_level', help: 'a level' })
    g.set(10)
    g.dec(3)
    g.inc()
    const h = m.histogram({ name: 'cfs_test_duration_seconds', help: 'durations', labelNames: ['op'], buckets: [0.1, 1] })
    h.labels('read').observe(0.05)
    h.labels('read').observe(0.5)
    h.labels('read').observe(5)
    byKind.labels('root', 'ok') // bound, never counted: shown at 0
    m.histogram({ name: 'cfs_test_duration_seconds', help: 'durations', labelNames: ['op'], buckets: [0.1, 1] }).labels('read') // bound again: kept
    m.histogram({ name: 'cfs_test_duration_seconds', help: 'durations', labelNames: ['op'], buckets: [0.1, 1] }).labels('write')
    const text = await m.scrape()
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(text).toContain('# TYPE cfs_test_puts_total counter')
    const s = parseMetrics(text)
    expect(value(s, 'cfs_test_things_total')).toBe(5)
    expect(value(s, 'cfs_test_puts_total', { kind: 'content', outcome: 'ok' })).toBe(2)
    expect(value(s, 'cfs_test_puts_total', { kind: 'root' })).toBe(1)
    expect(value(s, 'cfs_test_puts_total')).toBe(3)
    expect(value(s, 'cfs_test_level')).toBe(8)
    expect(family(s, 'cfs_test_duration_seconds').type).toBe('HISTOGRAM')
    expect(buckets(s, 'cfs_test_duration_seconds', { op: 'read' })).toEqual({ 0.1: 1, 1: 2, '+Inf': 3 })
    expect(observations(s, 'cfs_test_duration_seconds', { op: 'read' })).toBe(3)
    expect(buckets(s, 'cfs_test_duration_seconds', { op: 'write' })).toEqual({ 0.1: 0, 1: 0, '+Inf': 0 })
    expect(family(s, 'cfs_test_puts_total').metrics.find((x) => x.labels?.kind === 'root' && x.labels.outcome === 'ok')?.value).toBe('0')
    expect(Number(s.series.get('cfs_test_duration_seconds_sum')?.metrics[0]?.value)).toBeCloseTo(5.55)
  })

  it('reads collected metrics at each scrape; a name asked for again is the same metric, and a new callback replaces the old', async () => {
    const m = new PromMetrics({ processMetrics: false })
    let hits = 3
    m.collect({ name: 'cfs_test_lookups_total', help: 'reads', labelNames: ['result'], type: 'counter', collect: (r) => { r(hits, 'hit'); r(1, 'miss') } })
    m.collect({ name: 'cfs_test_stored_bytes', help: 'bytes', type: 'gauge', collect: (r) => { r(100) } })
    expect(value(await scraped(m), 'cfs_test_lookups_total', { result: 'hit' })).toBe(3)
    hits = 7
    let s = await scraped(m)
    expect(value(s, 'cfs_test_lookups_total', { result: 'hit' })).toBe(7) // set afresh, not added to
    expect(value(s, 'cfs_test_lookups_total')).toBe(8)
    expect(family(s, 'cfs_test_lookups_total').type).toBe('COUNTER')
    expect(value(s, 'cfs_test_stored_bytes')).toBe(100)
    // A restarted component registers again: its callback wins, and nothing is registered twice.
    m.collect({ name: 'cfs_test_stored_bytes', help: 'bytes', type: 'gauge', collect: (r) => { r(42) } })
    const a = m.counter({ name: 'cfs_test_shared_total', help: 'shared' })
    const b = m.counter({ name: 'cfs_test_shared_total', help: 'shared' })
    a.inc()
    b.inc()
    s = await scraped(m)
    expect(value(s, 'cfs_test_stored_bytes')).toBe(42)
    expect(value(s, 'cfs_test_shared_total')).toBe(2)
    expect(() => m.gauge({ name: 'cfs_test_shared_total', help: 'shared' })).toThrow(TypeError)
  })

  it('has a registry of its own: two in one process do not see each other, and process metrics are there unless turned off', async () => {
    const a = new PromMetrics()
    const b = new PromMetrics({ processMetrics: false })
    a.counter({ name: 'cfs_test_only_a_total', help: 'a' }).inc()
    b.counter({ name: 'cfs_test_only_a_total', help: 'b' }).inc(5)
    const sa = await scraped(a)
    const sb = await scraped(b)
    expect(value(sa, 'cfs_test_only_a_total')).toBe(1)
    expect(value(sb, 'cfs_test_only_a_total')).toBe(5)
    expect(value(sa, 'process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(value(sa, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(sb.families.has('process_cpu_seconds_total')).toBe(false)
  })

  it('NO_METRICS takes everything and keeps nothing', () => {
    const c = NO_METRICS.counter({ name: 'x_total', help: 'x', labelNames: ['a'] })
    c.inc()
    c.labels('b').inc(3)
    NO_METRICS.histogram({ name: 'y', help: 'y' }).labels('z').observe(1)
    NO_METRICS.gauge({ name: 'g', help: 'g' }).set(1)
    NO_METRICS.collect({ name: 'c', help: 'c', type: 'gauge', collect: () => { throw new Error('never called') } })
  })
})

describe('the layers counting into a node\'s metrics', () => {
  it('lookups, puts, gets, server requests, stored bytes and repair rounds', async () => {
    const network = new MemoryNetwork({ seed: 3 })
    const metrics = new PromMetrics({ processMetrics: false })
    const node = new CfsNode({
      transport: network.createTransport('10.0.0.1:4000'),
      openStores: async () => {
        const blocks = new MemoryBlockStore()
        const cache = new MemoryBlockCache()
        await blocks.open()
        await cache.open()
        return { blocks, cache }
      },
      metrics,
    }, { chord: { stabilizeIntervalMs: 0, fixFingersIntervalMs: 0, checkPredecessorIntervalMs: 0 }, dhash: { replicas: 3, repairIntervalMs: 0 } })
    await node.start()
    try {
      const before = await scraped(metrics)
      const bytes = new TextEncoder().encode('counted')
      const key = contentKey(bytes)
      await node.dhash.client.put(BlockKind.CONTENT, key, bytes)
      await node.dhash.client.get(BlockKind.CONTENT, key)
      await node.dhash.client.get(BlockKind.CONTENT, contentKey(new TextEncoder().encode('absent'))).catch(() => {})
      await node.dhash.repairOnce()
      const s = await scraped(metrics)
      // One node of k = 3: every put is degraded, two replicas short.
      expect(value(s, 'cfs_dhash_client_puts_total', { kind: 'content', outcome: 'degraded' })).toBe(1)
      expect(value(s, 'cfs_dhash_client_replicas_missing_total')).toBe(2)
      expect(value(s, 'cfs_dhash_client_put_bytes_total')).toBe(bytes.length)
      expect(observations(s, 'cfs_dhash_client_put_duration_seconds', { kind: 'content' })).toBe(1)
      expect(value(s, 'cfs_dhash_client_gets_total', { kind: 'content', outcome: 'ok' })).toBe(1)
      expect(value(s, 'cfs_dhash_client_gets_total', { kind: 'content', outcome: 'not_found' })).toBe(1)
      expect(observations(s, 'cfs_dhash_client_get_duration_seconds', { kind: 'content' })).toBe(1)
      expect(value(s, 'cfs_dhash_client_get_bytes_total')).toBe(bytes.length)
      expect(value(s, 'cfs_dhash_server_requests_total', { method: 'dhash.put', outcome: 'ok' })).toBe(1)
      expect(value(s, 'cfs_dhash_server_requests_total', { method: 'dhash.get' })).toBeGreaterThanOrEqual(2)
      expect(value(s, 'cfs_dhash_server_blocks_stored_total', { via: 'put' })).toBe(1)
      expect(value(s, 'cfs_dhash_stored_blocks')).toBe(1)
      expect(value(s, 'cfs_dhash_stored_bytes')).toBe(bytes.length)
      expect(value(s, 'cfs_dhash_repair_rounds_total', { outcome: 'ok' })).toBe(1)
      expect(value(s, 'cfs_dhash_scrub_blocks_total')).toBe(1)
      expect(value(s, 'cfs_dhash_scrub_bytes_total')).toBe(bytes.length)
      expect(value(s, 'cfs_chord_lookups_total', { outcome: 'ok' })).toBeGreaterThan(value(before, 'cfs_chord_lookups_total', { outcome: 'ok' }))
      expect(observations(s, 'cfs_chord_lookup_hops')).toBe(value(s, 'cfs_chord_lookups_total', { outcome: 'ok' }))
      // The put, the get, and the absent get twice: the holders it had cached, then looked up
      // afresh before the block is called missing.
      expect(value(s, 'cfs_dhash_client_locates_total')).toBe(4)
    } finally {
      await node.stop()
    }
  })

  it('a ring client\'s frame pool: buffers taken new and given back', async () => {
    const metrics = new PromMetrics({ processMetrics: false })
    const pool = new FramePool({ metrics }, { minBytes: 10, bufferBytes: 100 })
    const first = pool.take(50) as Uint8Array
    pool.give(first)
    pool.take(50)
    pool.take(60)
    const s = await scraped(metrics)
    expect(value(s, 'cfs_net_frame_buffers_total', { source: 'new' })).toBe(2)
    expect(value(s, 'cfs_net_frame_buffers_total', { source: 'reused' })).toBe(1)
  })

  it('FUSE operations, errors by errno, bytes, and publications', async () => {
    const metrics = new PromMetrics({ processMetrics: false })
    const owner = newOwner()
    const volume = new Volume({ blocks: new MemoryBlockService(), signer: owner.signer, verifier: owner.verifier, metrics }, { publishIntervalMs: 0 })
    await volume.start()
    const fuse = new CfsFuse({ fs: volume, sync: async (o) => { await volume.sync(o) }, metrics }, { owner: { uid: 1000, gid: 100 } })
    const call = async <K extends 'create' | 'write' | 'readBuffer' | 'fsync' | 'release' | 'getattr'>(op: K, ...args: unknown[]): Promise<[number, unknown]> =>
      new Promise((resolve) => { (fuse.ops[op] as (...a: unknown[]) => void)(...args, (c: number, v?: unknown) => { resolve([c, v]) }) })
    try {
      const [, created] = await call('create', '/f', 0o644)
      const fd = (created as { fd: number }).fd
      const data = Buffer.from('hello, metrics')
      expect((await call('write', '/f', fd, data, data.length, 0))[0]).toBe(data.length)
      expect((await call('fsync', '/f', false, fd))[0]).toBe(0)
      const [read, bytes] = await call('readBuffer', '/f', fd, 64, 0)
      expect(read).toBe(0)
      expect((bytes as Buffer).toString()).toBe(data.toString())
      expect((await call('release', '/f', fd))[0]).toBe(0)
      expect((await call('getattr', '/missing'))[0]).toBeLessThan(0)
      const s = await scraped(metrics)
      expect(value(s, 'cfs_fuse_operations_total', { op: 'write' })).toBe(1)
      expect(value(s, 'cfs_fuse_operations_total', { op: 'getattr' })).toBe(1)
      expect(value(s, 'cfs_fuse_errors_total', { op: 'getattr', errno: 'ENOENT' })).toBe(1)
      expect(value(s, 'cfs_fuse_errors_total')).toBe(1)
      expect(observations(s, 'cfs_fuse_operation_duration_seconds', { op: 'fsync' })).toBe(1)
      expect(value(s, 'cfs_fuse_written_bytes_total')).toBe(data.length)
      expect(value(s, 'cfs_fuse_read_bytes_total')).toBe(data.length)
      expect(value(s, 'cfs_fuse_open_files')).toBe(0)
      expect(value(s, 'cfs_volume_publications_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1)
      expect(observations(s, 'cfs_volume_publication_duration_seconds')).toBe(value(s, 'cfs_volume_publications_total', { outcome: 'ok' }))
      expect(value(s, 'cfs_volume_published_seq')).toBe(volume.stats.seq)
      expect(value(s, 'cfs_volume_dirty')).toBe(0)
    } finally {
      await fuse.close()
      await volume.stop()
    }
  })
})
