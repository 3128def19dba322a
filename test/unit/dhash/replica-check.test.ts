import { describe, expect, it } from 'vitest'
import { BadRequestError, BlockNotFoundError, NodeUnreachableError, TimeoutError, hashKey, toHex, type Key } from '../../../src/core/index.js'
import { makeNodeRef, type LookupResult, type NodeRef } from '../../../src/chord/index.js'
import { BlockKind, DHashClient, checkReplicas, contentKey, replicaHealth, type DHashRpc, type Peer, type ReplicaCheckComponents } from '../../../src/dhash/index.js'
import { MAX_BATCH_KEYS } from '../../../src/dhash/messages.js'

const nodes = ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1', '10.0.0.4:1'].map((a) => makeNodeRef(a))
const keys = Array.from({ length: 6 }, (_, i) => hashKey(`block ${i}`))

interface Call { address: string, n: number, timeoutMs: number | undefined }

/** Key i placed on nodes i, i+1, i+2; `stored` says who holds what; `fail` makes an address throw. */
function fakeRing (stored: Map<string, Set<string>>, fail: Map<string, Error> = new Map()): ReplicaCheckComponents & { calls: Call[] } {
  const calls: Call[] = []
  return {
    calls,
    holders: async (key: Key): Promise<NodeRef[]> => {
      const i = keys.findIndex((k) => toHex(k) === toHex(key))
      return [0, 1, 2].map((j) => nodes[(Math.max(i, 0) + j) % nodes.length] as NodeRef)
    },
    has: async ({ address }, batch, options) => {
      calls.push({ address, n: batch.length, timeoutMs: options.timeoutMs })
      const err = fail.get(address)
      if (err !== undefined) throw err
      return batch.map((k) => stored.get(address)?.has(toHex(k)) === true)
    },
  }
}

function everywhere (): Map<string, Set<string>> {
  return new Map(nodes.map((n) => [n.address, new Set(keys.map(toHex))]))
}

describe('replicaHealth', () => {
  it('ok at k copies, repairing while a holder lacks one, short on a ring of fewer than k endpoints, lost at none', () => {
    expect(replicaHealth(3, 3, 3)).toBe('ok')
    expect(replicaHealth(2, 3, 3)).toBe('repairing')
    expect(replicaHealth(1, 3, 3)).toBe('repairing')
    expect(replicaHealth(2, 2, 3)).toBe('short')
    expect(replicaHealth(1, 2, 3)).toBe('repairing')
    expect(replicaHealth(0, 3, 3)).toBe('lost')
    expect(replicaHealth(0, 1, 3)).toBe('lost')
  })
})

describe('checkReplicas', () => {
  it('asks each holder once about all its keys, with the timeout, and answers in the order asked', async () => {
    const ring = fakeRing(everywhere())
    const checks = await checkReplicas(ring, [...keys].reverse(), 3, { timeoutMs: 1_234 })
    expect(checks.map((c) => toHex(c.key))).toEqual([...keys].reverse().map(toHex))
    expect(checks.every((c) => c.have === 3 && c.health === 'ok' && c.wanted === 3)).toBe(true)
    expect(ring.calls.length).toBe(nodes.length) // one dhash.has per holder
    expect(ring.calls.reduce((n, c) => n + c.n, 0)).toBe(keys.length * 3)
    expect(ring.calls.every((c) => c.timeoutMs === 1_234)).toBe(true)
  })

  it('a holder that lacks a copy makes it repairing; an unreachable one counts as not holding; none is lost', async () => {
    const stored = everywhere()
    stored.get(nodes[1]!.address)!.delete(toHex(keys[0]!)) // holders of key 0: nodes 0, 1, 2
    for (const n of nodes) stored.get(n.address)!.delete(toHex(keys[5]!))
    const ring = fakeRing(stored, new Map([[nodes[3]!.address, new NodeUnreachableError('connection refused')]]))
    const checks = await checkReplicas(ring, keys, 3)
    expect(checks[0]).toMatchObject({ have: 2, health: 'repairing' })
    expect(checks[0]!.holders.map((h) => h.answer)).toEqual(['holds', 'lacks', 'holds'])
    // Key 1 is on nodes 1, 2, 3, and node 3 does not answer.
    expect(checks[1]).toMatchObject({ have: 2, health: 'repairing' })
    expect(checks[1]!.holders[2]).toMatchObject({ node: nodes[3], answer: 'unreachable', error: 'connection refused' })
    expect(checks[5]).toMatchObject({ have: 0, health: 'lost' })
  })

  it('a timeout is unreachable; another error is reported as such', async () => {
    const ring = fakeRing(everywhere(), new Map<string, Error>([
      [nodes[0]!.address, new TimeoutError('no answer in 2000 ms')],
      [nodes[1]!.address, new BadRequestError('bad body')],
    ]))
    const [check] = await checkReplicas(ring, [keys[0]!], 3)
    expect(check!.holders.map((h) => h.answer)).toEqual(['unreachable', 'error', 'holds'])
    expect(check).toMatchObject({ have: 1, health: 'repairing' })
  })

  it('a key given twice is checked once; more keys than a batch take several dhash.has', async () => {
    const many = Array.from({ length: MAX_BATCH_KEYS + 10 }, (_, i) => hashKey(`many ${i}`))
    const ring: ReplicaCheckComponents & { calls: number[] } = {
      calls: [],
      holders: async () => [nodes[0]!],
      has: async (_address, batch) => { ring.calls.push(batch.length); return batch.map(() => true) },
    }
    const checks = await checkReplicas(ring, [...many, many[0]!], 1)
    expect(checks.length).toBe(many.length + 1)
    expect(checks.every((c) => c.health === 'ok')).toBe(true)
    expect(ring.calls.sort((a, b) => a - b)).toEqual([10, MAX_BATCH_KEYS])
  })

  it('stops when aborted', async () => {
    const ctl = new AbortController()
    ctl.abort()
    await expect(checkReplicas(fakeRing(everywhere()), keys, 3, { signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' })
  })
})

describe('DHashClient as cfs where uses it', () => {
  // Five successors, of which two are a second vnode of an endpoint already listed.
  const successors = [nodes[0]!, makeNodeRef(nodes[0]!.address, 1), nodes[1]!, makeNodeRef(nodes[1]!.address, 1), nodes[2]!, nodes[3]!]
  const good = new Uint8Array(1000).fill(3)
  const key = contentKey(good)

  function client (readRepair: boolean): { client: DHashClient, stores: string[], asked: string[] } {
    const stores: string[] = []
    const asked: string[] = []
    const rpc = {
      get: async ({ address }: Peer) => {
        if (address === nodes[0]!.address) throw new BlockNotFoundError('not here')
        return { kind: BlockKind.CONTENT, bytes: good }
      },
      store: async ({ address }: Peer) => { stores.push(address); return true },
      has: async ({ address }: Peer, keys: readonly Key[]) => { asked.push(address); return keys.map(() => address !== nodes[0]!.address) },
      cache: async () => {},
    } as unknown as DHashRpc
    const router = { lookup: async (k: Key): Promise<LookupResult> => ({ key: k, successor: nodes[0]!, successors, path: [], hops: 0 }) }
    return { client: new DHashClient({ router, rpc }, { cachePathNodes: 0, readRepair }), stores, asked }
  }

  it('checkReplicas asks the k holders, one per endpoint, as puts place the key', async () => {
    const { client: c, asked } = client(true)
    const [check] = await c.checkReplicas([key])
    expect(check!.holders.map((h) => [h.node.address, h.answer])).toEqual([[nodes[0]!.address, 'lacks'], [nodes[1]!.address, 'holds'], [nodes[2]!.address, 'holds']])
    expect(check).toMatchObject({ have: 2, wanted: 3, health: 'repairing' })
    expect(asked.sort()).toEqual([nodes[0]!.address, nodes[1]!.address, nodes[2]!.address].sort())
  })

  it('with readRepair off, a read that finds a holder without the block hands it nothing', async () => {
    const off = client(false)
    expect(await off.client.get(BlockKind.CONTENT, key)).toEqual(good)
    await off.client.settled()
    expect(off.stores).toEqual([])
    const on = client(true)
    await on.client.get(BlockKind.CONTENT, key)
    await on.client.settled()
    expect(on.stores).toEqual([nodes[0]!.address])
  })
})
