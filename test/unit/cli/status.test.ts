import { describe, expect, it } from 'vitest'
import { formatBytes, formatHealth, formatVolumes } from '../../../src/cli/commands/status.js'
import { buildSnapshot, type KnownNode } from '../../../src/node/ring-snapshot.js'
import type { NodeStatus } from '../../../src/node/index.js'
import { id, ringStatuses, withBlocks } from '../node/fake-ring.js'

// `cfs status` prints the dashboard's summary: one line of totals, then a row per node.

describe('cfs status output', () => {
  it('prints totals, a row per node with its share and figures, and a failed node with when it was last seen', () => {
    const statuses = ringStatuses({ '10.0.0.1:4000': [id('1')], '10.0.0.2:4000': [id('9')], '10.0.0.3:4000': [id('c')] })
    const seen = Date.UTC(2030, 0, 1)
    const known = new Map<string, KnownNode>([
      ['10.0.0.1:4000', { status: withBlocks(statuses.get('10.0.0.1:4000') as NodeStatus, 12, 3, 1), lastSeen: seen, failedSince: null }],
      ['10.0.0.2:4000', { status: withBlocks(statuses.get('10.0.0.2:4000') as NodeStatus, 8, 0, 0), lastSeen: seen, failedSince: null }],
      ['10.0.0.3:4000', { status: statuses.get('10.0.0.3:4000'), lastSeen: seen - 5_000, failedSince: seen }],
    ])
    const text = formatHealth(buildSnapshot(known, '10.0.0.1:4000', seen))
    expect(text).toMatch(/^ring {4}2 live, 1 failed \(2 vnodes\); 20 blocks, 19\.5 KiB; 3 under-replicated, backlog 1; 0 volumes \(walked from 10\.0\.0\.1:4000\)$/m)
    // Its predecessor is still the failed node, as it reports: (c, 1] is 5/16 of the ring.
    expect(text).toMatch(/^ {2}10\.0\.0\.1:4000 +live +1 +31\.3% +12 +11\.7 KiB +3 +1 {2}1970-01-01T00:00:01\.000Z$/m)
    expect(text).toMatch(/^ {2}10\.0\.0\.3:4000 +failed +1 +- +- +- +- +- {2}last seen 2029-12-31T23:59:55\.000Z$/m)
  })

  it('lists the volume roots a node holds', () => {
    const s: NodeStatus = { address: 'a:1', vnodes: [], volumes: [{ key: id('77'), owner: id('ee'), seq: 4, publishedAt: 0, expiresAt: 1 }] }
    expect(formatVolumes(s)).toContain(`${id('ee')}    4  1970-01-01T00:00:00.000Z  7700000000000000`)
    expect(formatVolumes({ address: 'a:1', vnodes: [] })).toBe('volumes held by a:1: 0\n')
    expect([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(5 * 1024 ** 3)]).toEqual(['0 B', '1023 B', '1.5 KiB', '5.0 GiB'])
  })
})
