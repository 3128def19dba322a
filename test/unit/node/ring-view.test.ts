import { describe, expect, it } from 'vitest'
import { NodeUnreachableError } from '../../../src/core/index.js'
import { RingView, type NodeStatus, type RingSnapshot } from '../../../src/node/index.js'
import { id, ringStatuses } from './fake-ring.js'

// RingView on a fake status source: who it finds by walking from one seed, how many it asks,
// when a node turns failed and back, and when listeners hear of a change.

function fakeRing (statuses: Map<string, NodeStatus>): { down: Set<string>, asked: string[], status: (a: string) => Promise<NodeStatus> } {
  const down = new Set<string>()
  const asked: string[] = []
  return {
    down,
    asked,
    status: async (address) => {
      asked.push(address)
      const s = statuses.get(address)
      if (s === undefined || down.has(address)) throw new NodeUnreachableError(`${address} refused the connection`)
      return s
    },
  }
}

const states = (s: RingSnapshot): Record<string, string> => Object.fromEntries(s.nodes.map((n) => [n.address, n.state]))

describe('RingView', () => {
  it('finds every node by walking successor lists from one seed', async () => {
    // Successor lists of 2 on 10 endpoints: the seed alone names only a few of them.
    const endpoints = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`n${i}:1`, [id(i.toString(16))]]))
    const fake = fakeRing(ringStatuses(endpoints, 2))
    const view = new RingView({ status: fake.status, seeds: () => ['n0:1'] }, { intervalMs: 0 })
    const s = await view.refreshOnce()
    expect(s.summary).toMatchObject({ live: 10, failed: 0, vnodes: 10 })
    expect(s.nodes.reduce((t, n) => t + n.owns, 0)).toBeCloseTo(1, 9)
    expect(new Set(fake.asked).size).toBe(fake.asked.length) // each asked once per round
    expect(s.from).toBe('n0:1')
  })

  it('asks at most maxEndpoints per round', async () => {
    const endpoints = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`n${i}:1`, [id((i + 16).toString(16))]]))
    const fake = fakeRing(ringStatuses(endpoints, 4))
    const view = new RingView({ status: fake.status, seeds: () => ['n0:1'] }, { intervalMs: 0, maxEndpoints: 7 })
    const s = await view.refreshOnce()
    expect(fake.asked).toHaveLength(7)
    expect(s.summary.live).toBe(7)
  })

  it('shows a node failed from the first round it does not answer, with when it was last seen, and live again when it answers', async () => {
    const fake = fakeRing(ringStatuses({ 'a:1': [id('1')], 'b:1': [id('5')], 'c:1': [id('9')] }))
    let clock = 1_000
    const view = new RingView({ status: fake.status, seeds: () => ['a:1'], now: () => clock }, { intervalMs: 0, forgetFailedMs: 10_000 })
    expect(states(await view.refreshOnce())).toEqual({ 'a:1': 'live', 'b:1': 'live', 'c:1': 'live' })
    fake.down.add('b:1')
    clock = 2_000
    // The others still name it (they have not noticed yet): it is asked, and fails.
    let s = await view.refreshOnce()
    expect(states(s)).toEqual({ 'a:1': 'live', 'b:1': 'failed', 'c:1': 'live' })
    expect(s.nodes.find((n) => n.address === 'b:1')).toMatchObject({ lastSeen: 1_000, failedSince: 2_000, owns: 0 })
    expect(s.summary).toMatchObject({ live: 2, failed: 1 })
    fake.down.delete('b:1')
    clock = 3_000
    s = await view.refreshOnce()
    expect(states(s)['b:1']).toBe('live')
  })

  it('keeps asking a failed node the ring has dropped, until it is forgotten', async () => {
    const all = ringStatuses({ 'a:1': [id('1')], 'b:1': [id('5')], 'c:1': [id('9')] })
    const statuses = new Map(all)
    const fake = fakeRing(statuses)
    let clock = 0
    const view = new RingView({ status: fake.status, seeds: () => ['a:1'], now: () => clock }, { intervalMs: 0, forgetFailedMs: 5_000 })
    await view.refreshOnce()
    // c dies and the survivors' lists no longer name it.
    const shrunk = ringStatuses({ 'a:1': [id('1')], 'b:1': [id('5')] })
    for (const [a, s] of shrunk) statuses.set(a, s)
    statuses.delete('c:1')
    clock = 1_000
    expect(states(await view.refreshOnce())['c:1']).toBe('failed')
    clock = 4_000
    fake.asked.length = 0
    expect(states(await view.refreshOnce())['c:1']).toBe('failed')
    expect(fake.asked).toContain('c:1')
    clock = 5_000
    expect(states(await view.refreshOnce())['c:1']).toBeUndefined()
  })

  it('tells listeners of a snapshot only when it changed in more than its time', async () => {
    const fake = fakeRing(ringStatuses({ 'a:1': [id('1')], 'b:1': [id('5')] }))
    let clock = 0
    const view = new RingView({ status: fake.status, seeds: () => ['a:1'], now: () => clock }, { intervalMs: 0 })
    const heard: RingSnapshot[] = []
    const off = view.onChange((s) => heard.push(s))
    await view.refreshOnce()
    clock = 1_000
    await view.refreshOnce()
    expect(heard).toHaveLength(1)
    expect(view.snapshot()?.at).toBe(1_000) // the latest, even unchanged
    fake.down.add('b:1')
    await view.refreshOnce()
    expect(heard).toHaveLength(2)
    off()
    fake.down.delete('b:1')
    await view.refreshOnce()
    expect(heard).toHaveLength(2)
  })

  it('runs a round every intervalMs once started, and stop() ends it', async () => {
    const fake = fakeRing(ringStatuses({ 'a:1': [id('1')] }))
    const view = new RingView({ status: fake.status, seeds: () => ['a:1'] }, { intervalMs: 10 })
    expect(view.snapshot()).toBeUndefined()
    await view.start()
    await expect.poll(() => fake.asked.length, { timeout: 2_000 }).toBeGreaterThanOrEqual(3)
    await view.stop()
    const n = fake.asked.length
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(fake.asked.length).toBe(n)
    expect(view.snapshot()?.summary.live).toBe(1)
  })
})
