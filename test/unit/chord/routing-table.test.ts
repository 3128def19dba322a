import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Finger } from '../../../src/chord/finger-table.js'
import { makeNodeRef, type NodeRef } from '../../../src/chord/node-ref.js'
import { RoutingTable, type NextHop } from '../../../src/chord/routing-table.js'
import { KEY_BITS, type Key } from '../../../src/core/key.js'
import { FC, SPECIAL_POINTS, cw, fromBig, pointArb, refBetween, refSuccessor, toBig } from '../ring-model.js'

const bigs = new WeakMap<NodeRef, bigint>()
/** The node's id as an integer (cached: the properties ask for it a lot). */
function big (n: NodeRef): bigint {
  let v = bigs.get(n)
  if (v === undefined) { v = toBig(n.id); bigs.set(n, v) }
  return v
}
/** The key d steps clockwise from the node's id. */
const near = (n: NodeRef, d: bigint): Key => fromBig(big(n) + d)
/** The key halfway along the arc (a, b]. */
const mid = (a: NodeRef, b: NodeRef): Key => fromBig(big(a) + cw(big(a), big(b)) / 2n)
const addrs = (nodes: readonly NodeRef[]): string[] => nodes.map((n) => n.address)

/** The nodes of a ring in id order, with positions relative to one of them. */
class Ring {
  readonly sorted: NodeRef[]
  readonly ids: bigint[]
  constructor (nodes: NodeRef[]) {
    this.sorted = [...nodes].sort((a, b) => (big(a) < big(b) ? -1 : 1))
    this.ids = this.sorted.map(big)
  }

  /** The node k places clockwise from `n` (k < 0: counter-clockwise). */
  step (n: NodeRef, k: number): NodeRef {
    const len = this.sorted.length
    const i = this.sorted.indexOf(n)
    return this.sorted[(((i + k) % len) + len) % len] as NodeRef
  }

  successorOf (key: bigint): NodeRef {
    return this.sorted[this.ids.indexOf(refSuccessor(this.ids, key))] as NodeRef
  }

  /** Fingers as stabilization computes them: distinct successors of self + 2^i, stopping at self. */
  fingersOf (table: RoutingTable): Finger[] {
    const out: Finger[] = []
    for (let i = 0; i < KEY_BITS; i++) {
      const node = this.successorOf(toBig(table.fingers.start(i)))
      if (node === table.self) break
      if (out.at(-1)?.node !== node) out.push({ index: i, node })
    }
    return out
  }

  /** A table for `self` holding the true predecessor, `r` true successors and the true fingers. */
  table (self: NodeRef, r: number): RoutingTable {
    const t = new RoutingTable(self)
    if (this.sorted.length > 1) {
      t.setPredecessor(this.step(self, -1))
      t.setSuccessors(Array.from({ length: Math.min(r, this.sorted.length - 1) }, (_, j) => this.step(self, j + 1)))
    }
    t.fingers.replaceAll(this.fingersOf(t))
    return t
  }
}

/** Checks a not-done answer: candidates distinct, in (self, key), closest to the key first, at most count. */
function expectCandidates (self: NodeRef, key: Key, hop: NextHop, count: number): void {
  const k = toBig(key)
  expect(hop.done).toBe(false)
  expect(hop.nodes.length).toBeGreaterThan(0)
  expect(hop.nodes.length).toBeLessThanOrEqual(count)
  expect(new Set(hop.nodes.map((n) => n.hex)).size).toBe(hop.nodes.length)
  for (const n of hop.nodes) expect(refBetween(big(n), big(self), k, false), `${n.address} in (self, key)`).toBe(true)
  const dists = hop.nodes.map((n) => cw(big(n), k))
  expect(dists).toEqual([...dists].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
}

const self = makeNodeRef('10.0.0.1:4000', 0)
const ring = new Ring([self, ...Array.from({ length: 15 }, (_, i) => makeNodeRef(`10.0.1.${i + 1}:4000`, 0))])
const at = (k: number): NodeRef => ring.step(self, k)

describe('RoutingTable.next', () => {
  it('key in (pred, self]: done with [self, ...successors]', () => {
    const t = ring.table(self, 4)
    for (const key of [near(at(-1), 1n), mid(at(-1), self), self.id]) {
      const hop = t.next(key)
      expect(hop.done).toBe(true)
      expect(addrs(hop.nodes)).toEqual(addrs([self, at(1), at(2), at(3), at(4)]))
    }
  })

  it('key in (self, succ0]: done with the successor list', () => {
    const t = ring.table(self, 4)
    for (const key of [near(self, 1n), mid(self, at(1)), at(1).id]) {
      const hop = t.next(key)
      expect(hop.done).toBe(true)
      expect(addrs(hop.nodes)).toEqual(addrs([at(1), at(2), at(3), at(4)]))
    }
  })

  it('key beyond succ0: candidates strictly between self and the key, closest first', () => {
    const t = ring.table(self, 4)
    for (const key of [near(at(1), 1n), at(2).id, mid(at(5), at(6)), at(-1).id, near(at(-1), -1n)]) {
      expectCandidates(self, key, t.next(key), 3)
      expectCandidates(self, key, t.next(key, 8), 8)
    }
  })

  it('the best candidate is the closest known node preceding the key', () => {
    const t = ring.table(self, 3)
    const known = [...t.successors, ...t.fingers.nodes()]
    for (let k = 2; k < 15; k++) {
      const key = near(at(k), 1n)
      const best = known.filter((n) => refBetween(big(n), big(self), toBig(key), false))
        .sort((a, b) => (cw(big(a), toBig(key)) < cw(big(b), toBig(key)) ? -1 : 1))[0]
      const hop = t.next(key, 1)
      expect(hop.nodes).toHaveLength(1)
      expect(hop.nodes[0]?.address, `k=${k}`).toBe(best?.address)
    }
  })

  it('a key just past succ0 is not done even when succ1 is known: only succ0 is authoritative', () => {
    const t = ring.table(self, 4)
    const hop = t.next(near(at(1), 1n))
    expect(hop.done).toBe(false)
    expect(hop.nodes[0]).toBe(at(1))
  })

  it('returns at most count candidates', () => {
    const t = ring.table(self, 8)
    const key = at(-1).id
    for (const count of [1, 2, 5]) expect(t.next(key, count).nodes).toHaveLength(count)
    expect(t.next(key).nodes).toHaveLength(3)
  })

  it('a node with no successors answers done [self]', () => {
    const alone = new RoutingTable(self)
    for (const key of [self.id, near(self, 1n), at(5).id]) expect(alone.next(key)).toEqual({ done: true, nodes: [self] })
    const withPred = new RoutingTable(self)
    withPred.setPredecessor(at(-1))
    for (const key of [near(self, 1n), at(5).id, self.id]) expect(withPred.next(key)).toEqual({ done: true, nodes: [self] })
  })

  it('unknown predecessor: routes by the successor list only', () => {
    const t = new RoutingTable(self)
    t.setSuccessors([at(1), at(2)])
    expect(t.next(near(self, 1n))).toEqual({ done: true, nodes: [at(1), at(2)] })
    expectCandidates(self, at(5).id, t.next(at(5).id), 3)
  })

  it('in a two-node ring, each node routes every key to the right one', () => {
    const [p, q] = ring.sorted as [NodeRef, NodeRef]
    const two = new Ring([p, q])
    const tp = two.table(p, 4)
    for (const key of [p.id, q.id, near(p, 1n), near(q, 1n), mid(p, q), mid(q, p)]) {
      const hop = tp.next(key)
      expect(hop.done).toBe(true)
      expect(hop.nodes[0]).toBe(two.successorOf(toBig(key)))
    }
  })
})

describe('RoutingTable state changes', () => {
  const events = (t: RoutingTable): { succs: Array<readonly NodeRef[]>, preds: Array<NodeRef | undefined> } => {
    const log = { succs: [] as Array<readonly NodeRef[]>, preds: [] as Array<NodeRef | undefined> }
    t.onSuccessorsChanged = (s) => { log.succs.push([...s]) }
    t.onPredecessorChanged = (p) => { log.preds.push(p) }
    return log
  }

  it('setSuccessors drops self and fires only on a real change', () => {
    const t = new RoutingTable(self)
    const log = events(t)
    t.setSuccessors([at(1), self, at(2)])
    expect(t.successors).toEqual([at(1), at(2)])
    expect(t.successor).toBe(at(1))
    t.setSuccessors([at(1), at(2)])
    t.setSuccessors([{ ...at(1) }, at(2), self])
    expect(log.succs).toEqual([[at(1), at(2)]])
    t.setSuccessors([at(2)])
    expect(log.succs).toEqual([[at(1), at(2)], [at(2)]])
  })

  it('setPredecessor ignores self and fires only on a real change', () => {
    const t = new RoutingTable(self)
    const log = events(t)
    t.setPredecessor(self)
    t.setPredecessor(undefined)
    expect(t.predecessor).toBeUndefined()
    t.setPredecessor(at(-1))
    t.setPredecessor({ ...at(-1) })
    t.setPredecessor(at(-2))
    t.setPredecessor(self)
    expect(log.preds).toEqual([at(-1), at(-2), undefined])
    expect(t.predecessor).toBeUndefined()
  })

  it('remove(successor) drops it from the list and the fingers, firing onSuccessorsChanged once', () => {
    const t = ring.table(self, 4)
    const log = events(t)
    const victim = at(2)
    t.fingers.replaceAll([{ index: 0, node: at(1) }, { index: 100, node: victim }, { index: 200, node: at(8) }])
    t.remove(victim)
    expect(t.successors).toEqual([at(1), at(3), at(4)])
    expect(t.fingers.nodes()).toEqual([at(1), at(8)])
    expect(log.succs).toEqual([[at(1), at(3), at(4)]])
    expect(log.preds).toEqual([])
    expect(t.predecessor).toBe(at(-1))
  })

  it('remove(predecessor) clears it, firing onPredecessorChanged(undefined) once', () => {
    const t = ring.table(self, 4)
    const log = events(t)
    t.remove(at(-1))
    expect(t.predecessor).toBeUndefined()
    expect(log.preds).toEqual([undefined])
    expect(log.succs).toEqual([])
    expect(t.knownNodes().map((n) => n.hex)).not.toContain(at(-1).hex)
  })

  it('remove of a finger-only node changes the fingers and fires nothing', () => {
    const t = ring.table(self, 2)
    const far = at(8)
    t.fingers.replaceAll([{ index: 0, node: at(1) }, { index: 250, node: far }])
    const log = events(t)
    t.remove(far)
    expect(t.fingers.nodes()).toEqual([at(1)])
    expect(log).toEqual({ succs: [], preds: [] })
  })

  it('remove of a node that is predecessor, successor and finger fires each event once', () => {
    const [p, q] = ring.sorted as [NodeRef, NodeRef]
    const t = new Ring([p, q]).table(p, 4)
    expect(t.predecessor).toBe(q)
    expect(t.successors).toEqual([q])
    expect(t.fingers.nodes()).toEqual([q])
    const log = events(t)
    t.remove(q)
    expect(log.succs).toEqual([[]])
    expect(log.preds).toEqual([undefined])
    expect(t.fingers.nodes()).toEqual([])
    expect(t.knownNodes()).toEqual([])
    expect(t.next(q.id)).toEqual({ done: true, nodes: [p] })
  })

  it('remove of an unknown node changes nothing', () => {
    const t = ring.table(self, 3)
    const before = { pred: t.predecessor, succs: [...t.successors], fingers: [...t.fingers.fingers] }
    const log = events(t)
    t.remove(makeNodeRef('10.9.9.9:4000', 0))
    expect({ pred: t.predecessor, succs: [...t.successors], fingers: [...t.fingers.fingers] }).toEqual(before)
    expect(log).toEqual({ succs: [], preds: [] })
  })
})

describe('RoutingTable.isResponsible', () => {
  it('alone (no predecessor, no successors): responsible for every key', () => {
    const t = new RoutingTable(self)
    for (const p of SPECIAL_POINTS) expect(t.isResponsible(fromBig(p))).toBe(true)
    expect(t.isResponsible(self.id)).toBe(true)
  })

  it('successors but no predecessor: responsible for nothing yet', () => {
    const t = new RoutingTable(self)
    t.setSuccessors([at(1)])
    for (const key of [self.id, near(at(-1), 1n), at(1).id]) expect(t.isResponsible(key)).toBe(false)
  })

  it('with a predecessor: exactly the keys in (pred, self]', () => {
    const t = ring.table(self, 3)
    expect(t.isResponsible(self.id)).toBe(true)
    expect(t.isResponsible(near(at(-1), 1n))).toBe(true)
    expect(t.isResponsible(mid(at(-1), self))).toBe(true)
    expect(t.isResponsible(at(-1).id)).toBe(false)
    expect(t.isResponsible(near(self, 1n))).toBe(false)
    fc.assert(fc.property(pointArb, (k) => {
      expect(t.isResponsible(fromBig(k))).toBe(refBetween(k, big(at(-1)), big(self), true))
    }), FC)
  })
})

describe('RoutingTable.next on a perfect ring (property)', () => {
  const ringArb = fc.uniqueArray(fc.nat(1_000_000), { minLength: 1, maxLength: 40 })
    .map((ns) => new Ring(ns.map((n) => makeNodeRef(`n${n}.test:4000`, n % 4))))

  it('is done with the true successor of the key, or returns candidates in (self, key)', () => {
    fc.assert(fc.property(
      ringArb, fc.nat(), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 5 }),
      fc.array(fc.oneof(pointArb, fc.tuple(fc.nat(), fc.integer({ min: -1, max: 1 }))), { minLength: 1, maxLength: 12 }),
      (r, selfIndex, succCount, count, keySpecs) => {
        const me = r.sorted[selfIndex % r.sorted.length] as NodeRef
        const t = r.table(me, succCount)
        for (const spec of keySpecs) {
          // a random point, or a node id, or one off a node id
          const k = typeof spec === 'bigint' ? spec : big(r.sorted[spec[0] % r.sorted.length] as NodeRef) + BigInt(spec[1])
          const key = fromBig(k)
          const hop = t.next(key, count)
          const label = `self=${me.address} key=${toBig(key)}`
          if (hop.done) {
            expect(hop.nodes[0]?.address, label).toBe(r.successorOf(toBig(key)).address)
            // the rest follow the first clockwise, one ring step at a time
            hop.nodes.forEach((n, j) => { if (j > 0) expect(n, label).toBe(r.step(hop.nodes[j - 1] as NodeRef, 1)) })
          } else {
            expectCandidates(me, key, hop, count)
          }
        }
      },
    ), { ...FC, numRuns: 60 })
  })

  it('following next() from any node reaches the true successor within log-ish hops', () => {
    fc.assert(fc.property(ringArb, fc.nat(), fc.array(pointArb, { minLength: 1, maxLength: 8 }), (r, start, keys) => {
      const tables = new Map<NodeRef, RoutingTable>()
      const tableOf = (n: NodeRef): RoutingTable => {
        let t = tables.get(n)
        if (t === undefined) { t = r.table(n, 3); tables.set(n, t) }
        return t
      }
      for (const k of keys) {
        const key = fromBig(k)
        let at = r.sorted[start % r.sorted.length] as NodeRef
        let hops = 0
        for (;;) {
          const hop = tableOf(at).next(key)
          if (hop.done) {
            expect(hop.nodes[0]?.address).toBe(r.successorOf(k).address)
            break
          }
          at = hop.nodes[0] as NodeRef
          hops++
          expect(hops, `key=${k}`).toBeLessThanOrEqual(r.sorted.length)
        }
      }
    }), { ...FC, numRuns: 40 })
  })
})

describe('RoutingTable.closestPreceding (property)', () => {
  /** The reference: every known node in (self, key), distinct, sorted by distance to the key. */
  function reference (t: RoutingTable, key: bigint, count: number): string[] {
    const known = new Map([...t.fingers.nodes(), ...t.successors].map((n) => [n.hex, n]))
    return [...known.values()].filter((n) => refBetween(big(n), big(t.self), key, false))
      .sort((a, b) => (cw(big(a), key) < cw(big(b), key) ? -1 : 1)).slice(0, count).map((n) => n.address)
  }

  const nodesArb = fc.uniqueArray(fc.nat(1_000_000), { minLength: 2, maxLength: 40 })
    .map((ns) => ns.map((n) => makeNodeRef(`n${n}.test:4000`, 0)))

  it('equals sorting every known node, for true tables and for scrambled or stale ones', () => {
    fc.assert(fc.property(
      nodesArb, fc.nat(), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 64 }),
      fc.constantFrom('true', 'shuffled successors', 'shuffled fingers', 'random lists'), fc.array(pointArb, { minLength: 1, maxLength: 6 }),
      (nodes, selfIndex, r, count, kind, keys) => {
        const ring = new Ring(nodes)
        const me = ring.sorted[selfIndex % nodes.length] as NodeRef
        const t = ring.table(me, r)
        const others = nodes.filter((n) => n !== me)
        const shuffle = <T>(xs: readonly T[], seed: number): T[] => [...xs].sort((a, b) =>
          ((nodes.indexOf(a as never) * 7919 + seed) % 13) - ((nodes.indexOf(b as never) * 7919 + seed) % 13))
        if (kind === 'shuffled successors') t.setSuccessors(shuffle(t.successors, r))
        if (kind === 'shuffled fingers') t.fingers.replaceAll(shuffle(t.fingers.fingers, r))
        if (kind === 'random lists') {
          t.setSuccessors(others.slice(0, r))
          t.fingers.replaceAll(others.slice(r % others.length).map((node, index) => ({ index, node })))
        }
        for (const k of [...keys, big(me), big(me) + 1n]) {
          const got = t.closestPreceding(fromBig(k).reduce((h, b) => h + b.toString(16).padStart(2, '0'), ''), count).map((n) => n.address)
          expect(got, `${kind} self=${me.address} key=${k}`).toEqual(reference(t, k, count))
        }
      },
    ), { ...FC, numRuns: 200 })
  })
})

describe('RoutingTable predecessor list and knowsKey', () => {
  const keyOf = (i: number): Uint8Array => new Uint8Array(32).fill(i)
  const pinned = Array.from({ length: 8 }, (_, i) => makeNodeRef(`10.8.0.${i + 1}:4000`, 0, keyOf(i + 1)))
  const me = makeNodeRef('10.8.1.1:4000', 0, keyOf(99))
  const [p1, p2, p3, s1, f1, stranger] = pinned as [NodeRef, NodeRef, NodeRef, NodeRef, NodeRef, NodeRef]

  it('the predecessor heads the list; the list the predecessor reports is taken only while it is still the predecessor', () => {
    const t = new RoutingTable(me)
    t.setPredecessor(p1)
    expect(t.predecessors).toEqual([p1])
    t.setPredecessors([p1, p2, p3, me])
    expect(t.predecessors).toEqual([p1, p2, p3]) // never itself
    t.setPredecessors([p2, p3])
    expect(t.predecessors).toEqual([p1, p2, p3]) // a stale answer: p2 is not the predecessor
    t.remove(p2)
    expect(t.predecessors).toEqual([p1, p3])
    t.remove(p1)
    expect(t.predecessor).toBeUndefined()
    expect(t.predecessors).toEqual([p3])
    t.setPredecessor(p2)
    expect(t.predecessors).toEqual([p2, p3])
  })

  it('knows the keys pinned in itself, its predecessor list, successors and fingers, and no other', () => {
    const t = new RoutingTable(me)
    t.setPredecessor(p1)
    t.setPredecessors([p1, p2])
    t.setSuccessors([s1])
    t.fingers.replaceAll([{ index: 200, node: f1 }])
    for (const n of [me, p1, p2, s1, f1]) expect(t.knowsKey(n.key as Uint8Array), n.address).toBe(true)
    expect(t.knowsKey(stranger.key as Uint8Array)).toBe(false)
    expect(t.knowsKey(p3.key as Uint8Array)).toBe(false)
    // A record without a pin vouches for no key.
    const unpinned = new RoutingTable(makeNodeRef('10.8.2.1:4000', 0))
    unpinned.setSuccessors([makeNodeRef('10.8.2.2:4000', 0)])
    expect(unpinned.knowsKey(new Uint8Array(32))).toBe(false)
  })
})

describe('RoutingTable: a node first known by its address alone', () => {
  it('takes the pinned record of the same node in its place, without an event; a pin is never changed in place', () => {
    const me = makeNodeRef('10.9.1.1:4000', 0, new Uint8Array(32).fill(1))
    const bare = { ...makeNodeRef('10.9.1.2:4000', 0), key: undefined } // as a --join address gives it
    const pinned = { ...bare, key: new Uint8Array(32).fill(2) }
    const other = { ...bare, key: new Uint8Array(32).fill(3) }
    const t = new RoutingTable(me)
    t.setSuccessors([bare])
    t.setPredecessor(bare)
    const log = { succs: 0, preds: 0 }
    t.onSuccessorsChanged = () => { log.succs++ }
    t.onPredecessorChanged = () => { log.preds++ }
    t.setSuccessors([pinned])
    t.setPredecessor(pinned)
    expect(t.successor).toBe(pinned)
    expect(t.predecessor).toBe(pinned)
    expect(t.predecessors).toEqual([pinned])
    expect(t.knowsKey(pinned.key)).toBe(true)
    t.setSuccessors([other])
    t.setPredecessor(other)
    expect(t.successor).toBe(pinned)
    expect(t.predecessor).toBe(pinned)
    expect(log).toEqual({ succs: 0, preds: 0 })
  })
})

describe('RoutingTable: failed nodes are probed until they answer, ever less often', () => {
  it('a node that keeps failing is probed with a gap growing by one round up to MAX_PROBE_GAP, and never dropped', () => {
    const self = makeNodeRef('10.0.0.1:7000')
    const gone = makeNodeRef('10.0.0.2:7000')
    const table = new RoutingTable(self)
    table.remove(gone)
    const probedAt: number[] = []
    for (let round = 1; round <= 5_000; round++) if (table.nextFailedToProbe() === gone) probedAt.push(round)
    const gaps = probedAt.slice(1).map((r, i) => r - (probedAt[i] as number))
    expect(gaps.slice(0, 5)).toEqual([1, 2, 3, 4, 5])
    expect(Math.max(...gaps)).toBe(RoutingTable.MAX_PROBE_GAP)
    expect(probedAt.at(-1)).toBeGreaterThan(5_000 - RoutingTable.MAX_PROBE_GAP) // still probed after an hour and more of rounds
  })

  it('several failed nodes take turns, a node that answers leaves the list', () => {
    const self = makeNodeRef('10.0.0.1:7000')
    const [a, b] = [makeNodeRef('10.0.0.2:7000'), makeNodeRef('10.0.0.3:7000')]
    const table = new RoutingTable(self)
    table.remove(a)
    table.remove(b)
    expect([table.nextFailedToProbe(), table.nextFailedToProbe()]).toEqual([a, b])
    table.revived(a)
    const later = Array.from({ length: 50 }, () => table.nextFailedToProbe()).filter((n) => n !== undefined)
    expect(new Set(later)).toEqual(new Set([b]))
  })
})
