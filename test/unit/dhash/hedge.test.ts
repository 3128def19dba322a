import { describe, expect, it } from 'vitest'
import { NodeUnreachableError, hedged, raceSignal, type Key } from '../../../src/core/index.js'
import { makeNodeRef, type LookupResult } from '../../../src/chord/index.js'
import { BlockKind, DHashClient, contentKey, encodeRoot, generateSecretKey, publicKeyOf, rootKey, type DHashRpc, type Peer } from '../../../src/dhash/index.js'

/*
 * Bounded waits on reads: a holder that does not answer costs a fraction of a second, not an
 * RPC deadline. `hedged` asks the next holder alongside a silent one; a content get is served
 * by the next holder and the silent one is asked last afterwards; a root read waits only a
 * grace period for the holders still silent once one has answered.
 */

const never = async (signal: AbortSignal): Promise<never> => raceSignal(new Promise<never>(() => {}), signal)

describe('hedged', () => {
  it('asks the next attempt alongside one that is silent past its delay (and says so); the first success wins', async () => {
    const started: number[] = []
    const slow: number[] = []
    const silent = new AbortController()
    const t0 = performance.now()
    const r = await hedged(3, async (i) => {
      started.push(i)
      if (i === 0) return never(silent.signal)
      return `attempt ${i}`
    }, () => 30, (i) => slow.push(i))
    silent.abort() // the loser is left to end on its own; its outcome is ignored
    expect(r).toBe('attempt 1')
    expect(started).toEqual([0, 1])
    expect(slow).toEqual([0])
    expect(performance.now() - t0).toBeLessThan(1_000)
  })

  it('moves on at once from a failure, and rejects with the last error once every attempt failed', async () => {
    const started: number[] = []
    await expect(hedged(3, async (i) => { started.push(i); throw new Error(`no ${i}`) }, () => 60_000)).rejects.toThrow('no 2')
    expect(started).toEqual([0, 1, 2])
    expect(await hedged(2, async (i) => { if (i === 0) throw new Error('no'); return i }, () => 60_000)).toBe(1)
  })

  it('an attempt answered at once starts no other', async () => {
    const started: number[] = []
    expect(await hedged(3, async (i) => { started.push(i); return i }, () => 10)).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(started).toEqual([0])
  })
})

const holders = ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1'].map((a) => makeNodeRef(a))
const lookup = async (k: Key): Promise<LookupResult> => ({
  key: k, successor: holders[0] as ReturnType<typeof makeNodeRef>, successors: holders, path: [], hops: 0,
})

/** Three holders; `silent` never answers (until aborted), the others answer `answer(address)`. */
function client (silent: string, answer: (address: string) => { kind: BlockKind, bytes: Uint8Array }): { client: DHashClient, asked: string[] } {
  const asked: string[] = []
  const rpc = {
    get: async ({ address }: Peer, _key: Key, _cache: boolean, options: { signal?: AbortSignal } = {}) => {
      asked.push(address)
      if (address === silent) return never(options.signal ?? new AbortController().signal)
      return answer(address)
    },
    store: async () => true,
    cache: async () => {},
  } as unknown as DHashRpc
  return { client: new DHashClient({ router: { lookup }, rpc }, { cachePathNodes: 0 }), asked }
}

describe('DHashClient reads past a silent holder', () => {
  it('a content get is served by the next holder within a second, and the silent one is asked last afterwards', async () => {
    const bytes = new Uint8Array(1000).fill(3)
    const { client: c, asked } = client(holders[0]?.address as string, () => ({ kind: BlockKind.CONTENT, bytes }))
    const t0 = performance.now()
    expect(await c.get(BlockKind.CONTENT, contentKey(bytes))).toEqual(bytes)
    expect(performance.now() - t0).toBeLessThan(1_000)
    expect(asked).toEqual([holders[0]?.address, holders[1]?.address])
    asked.length = 0
    const t1 = performance.now()
    await c.get(BlockKind.CONTENT, contentKey(bytes))
    expect(performance.now() - t1).toBeLessThan(100)
    expect(asked).toHaveLength(1)
    expect(asked).not.toContain(holders[0]?.address)
    await c.stop()
  })

  it('an unreachable holder is passed at once', async () => {
    const bytes = new Uint8Array(10).fill(5)
    const rpc = {
      get: async ({ address }: Peer) => {
        if (address === holders[0]?.address) throw new NodeUnreachableError('refused')
        return { kind: BlockKind.CONTENT, bytes }
      },
    } as unknown as DHashRpc
    const c = new DHashClient({ router: { lookup }, rpc }, { cachePathNodes: 0 })
    const t0 = performance.now()
    expect(await c.get(BlockKind.CONTENT, contentKey(bytes))).toEqual(bytes)
    expect(performance.now() - t0).toBeLessThan(100)
  })

  it('a root read waits only a grace period for a silent holder once another has answered', async () => {
    const sk = generateSecretKey()
    const rk = rootKey(publicKeyOf(sk))
    const root = encodeRoot(sk, 4, new Uint8Array([1, 2, 3]))
    const { client: c } = client(holders[2]?.address as string, () => ({ kind: BlockKind.ROOT, bytes: root }))
    const t0 = performance.now()
    expect(await c.get(BlockKind.ROOT, rk)).toEqual(root)
    expect(performance.now() - t0).toBeLessThan(2_000)
    await c.stop()
  })
})
