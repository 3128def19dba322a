import { describe, expect, it } from 'vitest'
import { BlockNotFoundError, NodeUnreachableError, raceSignal, type Key } from '../../../src/core/index.js'
import { makeNodeRef, type LookupResult } from '../../../src/chord/index.js'
import { BlockKind, DHashClient, contentKey, type DHashRpc, type Peer } from '../../../src/dhash/index.js'
import type { StoreItem } from '../../../src/dhash/messages.js'

/*
 * Repair on read: a reader that finds a holder's copy missing or bad hands it a good one. The
 * repair is never awaited by the read, but it is tracked: settled() waits for it, a holder that
 * is briefly unreachable is tried again, and stop() abandons what is in flight.
 */

const holders = ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1'].map((a) => makeNodeRef(a))

interface FakeRing {
  client: DHashClient
  stores: Array<{ address: string, item: StoreItem }>
}

/** Three holders: the first serves `firstCopy`, the others the good bytes; `store` answers as told. */
function ring (good: Uint8Array, firstCopy: Uint8Array | undefined, store: (address: string, attempt: number) => Promise<boolean>): FakeRing {
  const stores: FakeRing['stores'] = []
  const attempts = new Map<string, number>()
  const rpc = {
    get: async ({ address }: Peer) => {
      const bytes = address === holders[0]?.address ? firstCopy : good
      if (bytes === undefined) throw new BlockNotFoundError('not here')
      return { kind: BlockKind.CONTENT, bytes }
    },
    // As DHashRpc.store: the caller's signal ends the wait.
    store: async ({ address }: Peer, item: StoreItem, options: { signal?: AbortSignal } = {}) => {
      stores.push({ address, item })
      const n = (attempts.get(address) ?? 0) + 1
      attempts.set(address, n)
      return raceSignal(store(address, n), options.signal)
    },
    cache: async () => {},
  } as unknown as DHashRpc
  const router = {
    lookup: async (k: Key): Promise<LookupResult> => ({
      key: k, successor: holders[0] as ReturnType<typeof makeNodeRef>, successors: holders, path: [], hops: 0,
    }),
  }
  return { client: new DHashClient({ router, rpc }, { cachePathNodes: 0 }), stores }
}

const good = new Uint8Array(4096).map((_, i) => (i * 7) % 251)
const bad = Uint8Array.from(good, (b, i) => (i === 1000 ? b ^ 1 : b))

describe('DHashClient repair on read', () => {
  it('a holder that served bad bytes gets a repair store (flagged), tried again while it is unreachable', async () => {
    const { client, stores } = ring(good, bad, async (_address, attempt) => {
      if (attempt === 1) throw new NodeUnreachableError('restarting')
      return true
    })
    expect(await client.get(BlockKind.CONTENT, contentKey(good))).toEqual(good)
    await client.settled()
    expect(client.stats).toMatchObject({ badCopiesRead: 1, repairsSent: 1, repaired: 1, repairsFailed: 0 })
    expect(stores.map((s) => [s.address, s.item.repair])).toEqual([[holders[0]?.address, true], [holders[0]?.address, true]])
  })

  it('a holder that lacked the block gets it back, unflagged; a refusal is counted, not retried', async () => {
    const { client, stores } = ring(good, undefined, async () => { throw new BlockNotFoundError('refused') })
    expect(await client.get(BlockKind.CONTENT, contentKey(good))).toEqual(good)
    await client.settled()
    expect(client.stats).toMatchObject({ badCopiesRead: 0, repairsSent: 1, repaired: 0, repairsFailed: 1 })
    expect(stores).toHaveLength(1)
    expect(stores[0]?.item.repair).toBeUndefined()
  })

  it('a repair sends a copy of its own: the reader may recycle what get returned at once', async () => {
    // Each get answers a fresh frame, as the transport does; recycle gives it to the pool.
    const given: Uint8Array[] = []
    const stores: StoreItem[] = []
    let answerStore!: () => void
    const rpc = {
      get: async ({ address }: Peer) => {
        if (address === holders[0]?.address) throw new BlockNotFoundError('not here')
        return { kind: BlockKind.CONTENT, bytes: good.slice() }
      },
      store: async (_peer: Peer, item: StoreItem) => {
        stores.push(item)
        await new Promise<void>((resolve) => { answerStore = resolve })
        return true
      },
      cache: async () => {},
    } as unknown as DHashRpc
    const router = {
      lookup: async (k: Key): Promise<LookupResult> => ({
        key: k, successor: holders[0] as ReturnType<typeof makeNodeRef>, successors: holders, path: [], hops: 0,
      }),
    }
    const framePool = { give: (bytes: Uint8Array) => { given.push(bytes) } }
    const client = new DHashClient({ router, rpc, framePool }, { cachePathNodes: 0 })
    const bytes = await client.get(BlockKind.CONTENT, contentKey(good))
    client.recycle(bytes)
    bytes.fill(0) // the pool's next frame overwrites it
    expect(given).toEqual([bytes])
    answerStore()
    await client.settled()
    expect(stores).toHaveLength(1)
    expect(stores[0]?.bytes).toEqual(good)
  })

  it('stop() abandons repairs in flight and starts no more', async () => {
    const { client, stores } = ring(good, bad, async () => new Promise<boolean>(() => {})) // never answers
    await client.get(BlockKind.CONTENT, contentKey(good))
    expect(stores).toHaveLength(1)
    await client.stop() // returns although the store never answered
    await client.get(BlockKind.CONTENT, contentKey(good))
    expect(stores).toHaveLength(1)
    expect(client.stats.repairsSent).toBe(1)
  })
})
