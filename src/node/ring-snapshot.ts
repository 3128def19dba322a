import type { NodeStatus, PeerStatus } from './status.js'

/*
 * The pure part of the ring view (ring-view.ts): what is known of each node after a round of
 * status probes, and the snapshot the dashboard and `cfs status` draw from it. No I/O here.
 */

/** A node answers its status probe (live) or has stopped answering, or never did (failed). */
export type NodeState = 'live' | 'failed'

/** What the view remembers of one endpoint between rounds. */
export interface KnownNode {
  /** Its last answer; undefined if it never answered. */
  readonly status: NodeStatus | undefined
  /** When it last answered (ms since the epoch); null if it never did. */
  readonly lastSeen: number | null
  /** Since when it has not answered; null while it answers. */
  readonly failedSince: number | null
}

/** The outcome of one round: who answered with what, and who was asked and did not answer. */
export interface RoundResult {
  readonly answered: ReadonlyMap<string, NodeStatus>
  readonly unreachable: ReadonlySet<string>
}

/** One endpoint as the dashboard shows it. */
export interface RingNode {
  address: string
  state: NodeState
  /** For a failed node: when it last answered (null: never, it was only named by others). Null while live. */
  lastSeen: number | null
  /** For a failed node: since when it has not answered. Null while live. */
  failedSince: number | null
  vnodes: number
  /** Fraction of the ring its live vnodes own: the sum of their arcs (predecessor, id]. */
  owns: number
  /** From its last answer (a failed node's are as last seen); null when it reported no block layer. */
  blocks: number | null
  bytes: number | null
  /**
   * Replica bytes it can hold at most: the smaller of its --max-storage-mb and what it holds
   * plus its disk's free space; null when it reported neither.
   */
  capacity: number | null
  underReplicated: number | null
  backlog: number | null
  /** When its last maintenance round finished; null before the first. */
  lastRepairAt: number | null
  /** Volume roots it holds. */
  volumes: number
}

/** One vnode on the circle. */
export interface RingVnode {
  id: string
  address: string
  vnode: number
  state: NodeState
  /** Its id's position on the ring, in [0, 1). */
  at: number
  /** Where its arc starts (its predecessor's position): it owns (from, at]. Equal to `at` when it owns the whole ring. */
  from: number
  /** Fraction of the ring it owns (0 for a failed vnode). */
  owns: number
}

/** A volume root and the live nodes holding it. */
export interface RingVolume {
  key: string
  owner: string
  /** The highest sequence number any holder has. */
  seq: number
  publishedAt: number | null
  holders: Array<{ address: string, seq: number }>
}

export interface RingSnapshot {
  /** When it was built (ms since the epoch). */
  at: number
  /** The node whose view it is (the walk's start). */
  from: string
  /** Over the live nodes; `capacity` counts those that reported one (as `capacityOf` says). */
  summary: {
    live: number
    failed: number
    vnodes: number
    blocks: number
    bytes: number
    capacity: number
    underReplicated: number
    backlog: number
    volumes: number
  }
  /** In ring order of their first vnode; failed nodes after the live ones. */
  nodes: RingNode[]
  /** In id order. */
  vnodes: RingVnode[]
  /** Newest publication first. */
  volumes: RingVolume[]
}

const RING = 1n << 256n

/** A 64-digit hex id's position on the ring as a fraction in [0, 1) (52 significant bits). */
export function ringPosition (hex: string): number {
  return parseInt(hex.slice(0, 13).padEnd(13, '0'), 16) / 2 ** 52
}

/** Fraction of the ring in the clockwise arc (from, to]; from == to is the whole ring. */
export function arcFraction (fromHex: string, toHex: string): number {
  const d = ((BigInt('0x' + toHex) - BigInt('0x' + fromHex)) % RING + RING) % RING
  if (d === 0n) return 1
  return Number(d >> 204n) / 2 ** 52
}

/**
 * What is known after a round: those that answered are live; those asked that did not answer
 * are failed (since the first round they did not); nodes not asked this round (the probe budget
 * ran out) stay as they were. A failed node is forgotten `forgetFailedMs` after it last
 * answered (or after it was first found failed, if it never answered).
 */
export function observe (known: ReadonlyMap<string, KnownNode>, round: RoundResult, now: number, forgetFailedMs: number): Map<string, KnownNode> {
  const next = new Map<string, KnownNode>()
  for (const [address, node] of known) next.set(address, node)
  for (const [address, status] of round.answered) next.set(address, { status, lastSeen: now, failedSince: null })
  for (const address of round.unreachable) {
    if (round.answered.has(address)) continue
    const prev = known.get(address)
    next.set(address, { status: prev?.status, lastSeen: prev?.lastSeen ?? null, failedSince: prev?.failedSince ?? now })
  }
  for (const [address, node] of next) {
    if (node.failedSince !== null && now - (node.lastSeen ?? node.failedSince) >= forgetFailedMs) next.delete(address)
  }
  return next
}

/** Every endpoint a status names: predecessors, successors and fingers of its vnodes. */
export function namedPeers (status: NodeStatus): PeerStatus[] {
  return status.vnodes.flatMap((v) => [...(v.predecessor === null ? [] : [v.predecessor]), ...v.successors, ...v.fingers])
}

/** Builds the snapshot from what is known: arcs from the live vnodes' predecessors, totals from live nodes. */
export function buildSnapshot (known: ReadonlyMap<string, KnownNode>, from: string, now: number): RingSnapshot {
  const live = [...known].filter(([, n]) => n.failedSince === null && n.status !== undefined)
  const liveIds = live.flatMap(([, n]) => (n.status as NodeStatus).vnodes.map((v) => v.id)).sort()
  // Vnodes of failed nodes: from their last answer, else as live nodes name them.
  const named = new Map<string, PeerStatus[]>()
  for (const [, n] of live) {
    for (const p of namedPeers(n.status as NodeStatus)) {
      const list = named.get(p.address) ?? []
      if (!list.some((q) => q.id === p.id)) list.push(p)
      named.set(p.address, list)
    }
  }
  const vnodes: RingVnode[] = []
  const owns = new Map<string, number>()
  for (const [address, n] of known) {
    const failed = n.failedSince !== null || n.status === undefined
    const vs = n.status?.vnodes ?? (named.get(address) ?? []).map((p) => ({ id: p.id, vnode: p.vnode, predecessor: null }))
    for (const v of vs) {
      let pred = v.predecessor?.id
      if (pred === undefined) {
        const i = liveIds.indexOf(v.id)
        pred = i < 0 ? v.id : (liveIds[(i - 1 + liveIds.length) % liveIds.length] ?? v.id)
      }
      const share = failed ? 0 : arcFraction(pred, v.id)
      owns.set(address, (owns.get(address) ?? 0) + share)
      vnodes.push({ id: v.id, address, vnode: v.vnode, state: failed ? 'failed' : 'live', at: ringPosition(v.id), from: failed ? ringPosition(v.id) : ringPosition(pred), owns: share })
    }
  }
  vnodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.address < b.address ? -1 : 1))

  const nodes: RingNode[] = []
  for (const [address, n] of known) {
    const failed = n.failedSince !== null || n.status === undefined
    const b = n.status?.blocks
    const r = b?.lastRepair
    nodes.push({
      address,
      state: failed ? 'failed' : 'live',
      lastSeen: failed ? n.lastSeen : null,
      failedSince: failed ? (n.failedSince ?? now) : null,
      vnodes: n.status?.vnodes.length ?? named.get(address)?.length ?? 0,
      owns: owns.get(address) ?? 0,
      blocks: b?.store.blocks ?? null,
      bytes: b?.store.bytes ?? null,
      capacity: capacityOf(n.status),
      underReplicated: r === undefined ? null : r.underReplicated,
      backlog: r === undefined ? null : r.backlog,
      lastRepairAt: r?.finishedAt ?? null,
      volumes: n.status?.volumes?.length ?? 0,
    })
  }
  const firstId = (address: string): string => vnodes.find((v) => v.address === address)?.id ?? 'g' + address
  nodes.sort((a, b) => (a.state === b.state ? 0 : a.state === 'live' ? -1 : 1) || (firstId(a.address) < firstId(b.address) ? -1 : 1))

  const volumes = new Map<string, RingVolume>()
  for (const [address, n] of live) {
    for (const v of n.status?.volumes ?? []) {
      const entry = volumes.get(v.key) ?? { key: v.key, owner: v.owner, seq: 0, publishedAt: null, holders: [] }
      entry.holders.push({ address, seq: v.seq })
      if (v.seq > entry.seq) Object.assign(entry, { seq: v.seq, publishedAt: v.publishedAt })
      volumes.set(v.key, entry)
    }
  }
  const volumeList = [...volumes.values()].sort((a, b) => (b.publishedAt ?? -1) - (a.publishedAt ?? -1) || (a.key < b.key ? -1 : 1))

  const liveNodes = nodes.filter((n) => n.state === 'live')
  const sum = (f: (n: RingNode) => number | null): number => liveNodes.reduce((s, n) => s + (f(n) ?? 0), 0)
  return {
    at: now,
    from,
    summary: {
      live: liveNodes.length,
      failed: nodes.length - liveNodes.length,
      vnodes: liveIds.length,
      blocks: sum((n) => n.blocks),
      bytes: sum((n) => n.bytes),
      capacity: sum((n) => n.capacity),
      underReplicated: sum((n) => n.underReplicated),
      backlog: sum((n) => n.backlog),
      volumes: volumeList.length,
    },
    nodes,
    vnodes,
    volumes: volumeList,
  }
}

/** What a node can hold at most: min(its limit, held + free disk); null when it reported neither. */
export function capacityOf (status: NodeStatus | undefined): number | null {
  const b = status?.blocks
  if (b === undefined) return null
  const byDisk = status?.disk === undefined ? Infinity : b.store.bytes + status.disk.freeBytes
  const cap = Math.min(b.maxBytes ?? Infinity, byDisk)
  return Number.isFinite(cap) ? cap : null
}
