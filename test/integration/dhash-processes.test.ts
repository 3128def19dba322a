import { execFile } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pLimit from 'p-limit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BlockNotFoundError, QuotaExceededError, RootConflictError, isCfsError, toHex, type Key } from '../../src/core/index.js'
import { TcpTransport } from '../../src/net/index.js'
import { makeNodeRef } from '../../src/chord/index.js'
import {
  BlockKind, DHashRpc, LevelBlockStore, contentKey, decodeRoot, encodeRoot, generateSecretKey, publicKeyOf, rootKey,
} from '../../src/dhash/index.js'
import { connectRing, queryStatus, type RingClient } from '../../src/node/index.js'
import { CFS_BIN, killDaemon, listKeys, spawnDaemon, type Daemon } from '../helpers/daemon.js'
import { waitFor } from '../helpers/poll.js'

/*
 * DHash across real `cfs node` processes on 127.0.0.1, each with its own LevelDB directory.
 * The test process is a client outside the ring (connectRing) and, for checks that must address
 * one node, speaks DHash RPCs to it directly (DHashRpc over a client-only TcpTransport).
 *
 * Who holds a block is read from each node's HTTP /keys listing (every node runs with
 * --http 127.0.0.1:0): it lists the node's replica store (not its lookup-path cache), so "holds"
 * means exactly "would serve it as a replica". The reference holders of a key are the k live
 * nodes at and after it in id order (one vnode per node, so k distinct endpoints).
 *
 * Every wait is a poll with a deadline; timings are logged for the record.
 */

const K = 3
const FAST = ['--stabilize-ms', '200', '--repair-ms', '500', '--http', '127.0.0.1:0']
const exec = promisify(execFile)

const spawned: Daemon[] = []
const clients: RingClient[] = []
const rpcTransport = new TcpTransport({}, { rpcTimeoutMs: 5_000 })
const rpc = new DHashRpc(rpcTransport, 5_000)

beforeAll(async () => { await rpcTransport.start() })
afterAll(async () => {
  await Promise.all(clients.map(async (c) => { await c.close() }))
  await rpcTransport.stop()
  // Every process by PID (a restarted node shares its data directory with its first run).
  await Promise.all(spawned.map(async (d) => { await killDaemon(d, 'SIGKILL') }))
})

async function start (args: string[], options: Parameters<typeof spawnDaemon>[2] = {}): Promise<Daemon> {
  const d = await spawnDaemon(args, 20_000, options)
  spawned.push(d)
  return d
}

async function client (ring: Daemon[]): Promise<RingClient> {
  const c = await connectRing({ ring: ring.map((d) => d.address) })
  clients.push(c)
  return c
}

/** The k live nodes at and after `keyHex` in ring (id) order. */
function referenceHolders (live: Daemon[], keyHex: string, k = K): Daemon[] {
  const sorted = [...live].sort((a, b) => (a.id < b.id ? -1 : 1))
  const first = Math.max(0, sorted.findIndex((d) => d.id >= keyHex))
  return Array.from({ length: Math.min(k, sorted.length) }, (_, i) => sorted[(first + i) % sorted.length] as Daemon)
}

/** Nodes whose predecessor or first `depth` successors differ from the reference ring. */
async function ringErrors (live: Daemon[], depth = K): Promise<string[]> {
  const ids = live.map((d) => d.id).sort()
  const bad: string[] = []
  for (const d of live) {
    const v = (await queryStatus(d.address)).vnodes[0]
    const i = ids.indexOf(d.id)
    const want = Array.from({ length: Math.min(depth, ids.length - 1) }, (_, j) => ids[(i + 1 + j) % ids.length])
    const have = v?.successors.slice(0, want.length).map((s) => s.id)
    const wantPred = ids[(i - 1 + ids.length) % ids.length]
    if (JSON.stringify(have) !== JSON.stringify(want) || v?.predecessor?.id !== wantPred) bad.push(d.address)
  }
  return bad
}

async function waitForRing (live: Daemon[]): Promise<number> {
  return (await waitFor('ring settles', async () => ringErrors(live), (bad) => bad.length === 0, 20_000)).ms
}

/**
 * Keys whose holders among `live` are not exactly their k reference holders (a surplus copy on
 * `surplusOk` aside), and how many have fewer than k holders.
 */
async function misplaced (live: Daemon[], keys: readonly Key[], surplusOk?: Daemon): Promise<{ total: number, under: number, bad: string[] }> {
  const listings = await Promise.all(live.map(async (d) => ({ d, keys: await listKeys(d) })))
  const bad: string[] = []
  let under = 0
  for (const key of keys) {
    const hex = toHex(key)
    const want = referenceHolders(live, hex).map((d) => d.address).sort()
    const have = listings.filter((l) => l.keys.has(hex) && (l.d !== surplusOk || want.includes(l.d.address))).map((l) => l.d.address).sort()
    if (have.length < K) under++
    if (JSON.stringify(have) !== JSON.stringify(want)) bad.push(`${hex.slice(0, 12)} have=${have.join(',')} want=${want.join(',')}`)
  }
  return { total: keys.length, under, bad: bad.slice(0, 10).concat(bad.length > 10 ? [`… ${bad.length} in all`] : []) }
}

function randomBlock (minBytes: number, maxBytes: number): { key: Key, bytes: Uint8Array } {
  const bytes = new Uint8Array(randomBytes(randomInt(minBytes, maxBytes + 1)))
  return { key: contentKey(bytes), bytes }
}

function codeOf (err: unknown): string {
  return isCfsError(err) ? err.code : `not a CfsError: ${String(err)}`
}

async function refusal (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'accepted'
  } catch (err) {
    return codeOf(err)
  }
}

describe('DHash on six cfs node processes, k = 3', () => {
  let live: Daemon[] = []
  /** The node restarted on its data directory; it runs no maintenance (see below). */
  let restarted: Daemon | undefined
  let seed: Daemon
  let c: RingClient
  const blocks: Array<{ key: Key, bytes: Uint8Array }> = []

  beforeAll(async () => {
    const t0 = Date.now()
    seed = await start(FAST)
    live = [seed, ...await Promise.all(Array.from({ length: 5 }, async () => start(['--join', seed.address, ...FAST])))]
    const settled = await waitForRing(live)
    console.log(`6 nodes up in ${Date.now() - t0} ms (ring settled ${settled} ms after the last start)`)
    c = await client([seed])
  })

  it('2,000 blocks: put on 3 replicas, all readable after kill -9 of two nodes, and repair restores exactly 3 holders', async () => {
    for (let i = 0; i < 2_000; i++) blocks.push(randomBlock(1024, 8192))
    const limit = pLimit(32)
    let t = Date.now()
    const puts = await Promise.all(blocks.map(async (b) => limit(async () => c.blocks.put(BlockKind.CONTENT, b.key, b.bytes))))
    const putMs = Date.now() - t
    expect(puts.filter((r) => r.replicas !== K || r.degraded).length).toBe(0)
    const placed = await misplaced(live, blocks.map((b) => b.key))
    expect(placed.bad).toEqual([])

    // Two ring neighbours (neither the client's bootstrap node): blocks they both held are down to one copy.
    const ring = [...live].sort((a, b) => (a.id < b.id ? -1 : 1))
    const i = ring.findIndex((d, j) => d !== seed && ring[(j + 1) % ring.length] !== seed)
    const victims = [ring[i] as Daemon, ring[(i + 1) % ring.length] as Daemon]
    const lonely = blocks.filter((b) => { const h = referenceHolders(live, toHex(b.key)); return victims.every((v) => h.includes(v)) }).length
    await Promise.all(victims.map(async (v) => { await killDaemon(v, 'SIGKILL') }))
    const killedAt = Date.now()
    live = live.filter((d) => !victims.includes(d))

    t = Date.now()
    const got = await Promise.all(blocks.map(async (b) => limit(async () => {
      try {
        return Buffer.from(await c.blocks.get(BlockKind.CONTENT, b.key)).equals(b.bytes) ? 'ok' : 'wrong bytes'
      } catch (err) {
        return codeOf(err)
      }
    })))
    const getMs = Date.now() - t
    expect(got.filter((g) => g !== 'ok')).toEqual([])

    await waitForRing(live)
    const ringMs = Date.now() - killedAt
    const repaired = await waitFor('repair restores k holders', async () => misplaced(live, blocks.map((b) => b.key)), (m) => m.bad.length === 0, 45_000, 500)
    console.log(`put 2000 blocks (1-8 KiB) in ${putMs} ms, all with 3 replicas; killed 2 adjacent nodes (${lonely} blocks left with 1 copy); ` +
      `2000/2000 gets ok in ${getMs} ms right after the kill; ring settled ${ringMs} ms after the kill; ` +
      `exactly the 3 reference holders for every block ${Date.now() - killedAt} ms after the kill`)
    expect(repaired.value.under).toBe(0)
  })

  it('a flipped byte on one node: readers still get good data, and the node gets a good copy back', async () => {
    // A fresh block whose primary is the victim, so a fresh client asks the victim first.
    const victim = live.find((d) => d !== seed) as Daemon
    let b = randomBlock(4096, 4096)
    while (referenceHolders(live, toHex(b.key))[0] !== victim) b = randomBlock(4096, 4096)
    expect((await c.blocks.put(BlockKind.CONTENT, b.key, b.bytes)).replicas).toBe(K)

    await killDaemon(victim, 'SIGKILL', { keepData: true })
    const store = new LevelBlockStore({}, { location: join(victim.dataDir, 'blocks') })
    await store.open()
    const stored = await store.get(b.key)
    expect(stored !== undefined && Buffer.from(stored.bytes).equals(b.bytes)).toBe(true)
    const flipped = new Uint8Array(stored!.bytes)
    flipped[1000] = (flipped[1000] as number) ^ 0x01
    await store.put(b.key, { ...stored!, bytes: flipped }) // same metadata, one bit off
    await store.close()

    // The restarted node runs no maintenance round during this test (--repair-ms 10 min): its
    // scrub would find the bad copy by itself, and a round run before the ring routes to it
    // again could hand the block off unread. So only a reader can find the bad copy here.
    const restartArgs = ['--join', seed.address, '--stabilize-ms', '200', '--repair-ms', '600000', '--http', '127.0.0.1:0']
    const back = await start(restartArgs, { dataDir: victim.dataDir, listen: victim.address })
    expect(back.id).toBe(victim.id)
    live = live.map((d) => (d === victim ? back : d))
    restarted = back
    const ringMs = await waitForRing(live)
    // While the node was away another node took a copy; once that surplus copy is handed back,
    // the bad copy is one of exactly three, and the primary's.
    const placed = await waitFor('surplus copies handed off', async () => misplaced(live, [b.key]), (m) => m.bad.length === 0, 20_000)
    expect((await queryStatus(back.address)).blocks?.corruptDropped).toBe(0)

    const fresh = await client([seed]) // no latency history: asks the primary first
    const t1 = Date.now()
    expect(Buffer.from(await fresh.blocks.get(BlockKind.CONTENT, b.key)).equals(b.bytes)).toBe(true)
    const readMs = Date.now() - t1
    // The reader verified, fell back to the next holder and handed the good copy back (a repair
    // store, tracked by the client until the node answers): the node rechecked its copy,
    // dropped it, and keeps the good one.
    await fresh.blocks.settled()
    expect(fresh.blocks.stats).toMatchObject({ badCopiesRead: 1, repairsSent: 1, repaired: 1, repairsFailed: 0 })
    expect((await queryStatus(back.address)).blocks?.corruptDropped).toBe(1)
    const r = await rpc.get(back, b.key, false)
    expect(Buffer.from(r.bytes).equals(b.bytes)).toBe(true)
    console.log(`corrupt copy: restarted node settled in ${ringMs} ms, surplus copy gone ${placed.ms} ms later; ` +
      `fresh read correct in ${readMs} ms, and the bad copy replaced ${Date.now() - t1 - readMs} ms after it`)
    blocks.push(b)
  })

  it('roots: forged, wrongly signed and stale roots are refused and the stored root stays', async () => {
    const sk = generateSecretKey()
    const key = rootKey(publicKeyOf(sk))
    const holders = referenceHolders(live, toHex(key))
    const primary = makeNodeRef((holders[0] as Daemon).address, 0)
    const v1 = encodeRoot(sk, 1, new TextEncoder().encode('v1'))
    const v2 = encodeRoot(sk, 2, new TextEncoder().encode('v2'))
    expect((await c.blocks.put(BlockKind.ROOT, key, v1, { expectSeq: 0 })).replicas).toBe(K)
    expect((await c.blocks.put(BlockKind.ROOT, key, v2, { expectSeq: 1 })).replicas).toBe(K)

    const forged = new Uint8Array(encodeRoot(sk, 3, new TextEncoder().encode('forged')))
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 0xff // the signature is the last field
    const otherSigner = encodeRoot(generateSecretKey(), 3, new TextEncoder().encode('not yours'))
    const stale = encodeRoot(sk, 1, new TextEncoder().encode('an older sequence number'))
    const leaseMs = 60_000

    const refusals = {
      // Through the BlockService ...
      forgedByClient: await refusal(c.blocks.put(BlockKind.ROOT, key, forged)),
      otherByClient: await refusal(c.blocks.put(BlockKind.ROOT, key, otherSigner)),
      // ... and to the nodes directly: the primary (dhash.put) and every holder (dhash.store).
      forgedByPrimary: await refusal(rpc.put(primary, { key, kind: BlockKind.ROOT, bytes: forged, leaseMs })),
      otherByPrimary: await refusal(rpc.put(primary, { key, kind: BlockKind.ROOT, bytes: otherSigner, leaseMs })),
      forgedByHolders: await Promise.all(holders.map(async (h) => refusal(rpc.store(h, { key, kind: BlockKind.ROOT, bytes: forged, expiresAt: Date.now() + leaseMs, owner: '' })))),
      otherByHolders: await Promise.all(holders.map(async (h) => refusal(rpc.store(h, { key, kind: BlockKind.ROOT, bytes: otherSigner, expiresAt: Date.now() + leaseMs, owner: '' })))),
      staleByClient: await refusal(c.blocks.put(BlockKind.ROOT, key, stale)),
      staleByPrimary: await refusal(rpc.put(primary, { key, kind: BlockKind.ROOT, bytes: stale, leaseMs })),
    }
    expect(refusals).toEqual({
      forgedByClient: 'BLOCK_INVALID',
      otherByClient: 'BLOCK_INVALID',
      forgedByPrimary: 'BLOCK_INVALID',
      otherByPrimary: 'BLOCK_INVALID',
      forgedByHolders: holders.map(() => 'BLOCK_INVALID'),
      otherByHolders: holders.map(() => 'BLOCK_INVALID'),
      staleByClient: 'ROOT_STALE',
      staleByPrimary: 'ROOT_STALE',
    })
    // A node-to-node copy of an older root is ignored quietly: the stored one is the newer truth.
    for (const h of holders) {
      expect(await rpc.store(h, { key, kind: BlockKind.ROOT, bytes: stale, expiresAt: Date.now() + leaseMs, owner: '' })).toBe(false)
    }
    for (const h of holders) expect(Buffer.from((await rpc.get(h, key, false)).bytes).equals(v2)).toBe(true)
    expect(Buffer.from(await c.blocks.get(BlockKind.ROOT, key)).equals(v2)).toBe(true)
  })

  it('two writers race on one root 20 times: exactly one wins each round, the other gets ROOT_CONFLICT', async () => {
    const sk = generateSecretKey()
    const key = rootKey(publicKeyOf(sk))
    const holders = referenceHolders(live, toHex(key))
    const [a, b] = [await client([seed]), await client([seed])]
    expect((await a.blocks.put(BlockKind.ROOT, key, encodeRoot(sk, 1, new Uint8Array([0])), { expectSeq: 0 })).replicas).toBe(K)
    await b.blocks.get(BlockKind.ROOT, key) // both writers know the holders before the race
    const wins = { a: 0, b: 0 }
    for (let round = 1; round <= 20; round++) {
      const payload = (who: string): Uint8Array => new TextEncoder().encode(`${who} wrote seq ${round + 1}`)
      const bytes = { a: encodeRoot(sk, round + 1, payload('a')), b: encodeRoot(sk, round + 1, payload('b')) }
      // Which request leaves first is a coin toss, so either writer can win.
      const putA = (): Promise<unknown> => a.blocks.put(BlockKind.ROOT, key, bytes.a, { expectSeq: round })
      const putB = (): Promise<unknown> => b.blocks.put(BlockKind.ROOT, key, bytes.b, { expectSeq: round })
      const [ra, rb] = randomInt(2) === 0
        ? await Promise.allSettled([putA(), putB()])
        : (await Promise.allSettled([putB(), putA()])).reverse() as [PromiseSettledResult<unknown>, PromiseSettledResult<unknown>]
      const won = [ra, rb].filter((r) => r.status === 'fulfilled')
      const lost = [ra, rb].filter((r) => r.status === 'rejected')
      expect(won.length, `round ${round}`).toBe(1)
      expect(lost[0]?.reason, `round ${round}`).toBeInstanceOf(RootConflictError)
      expect((won[0] as PromiseFulfilledResult<{ replicas: number }>).value.replicas, `round ${round}`).toBe(K)
      const winner = ra.status === 'fulfilled' ? 'a' : 'b'
      wins[winner]++
      // Nothing lost: every holder has the winner's root, and readers see it.
      for (const h of holders) {
        const r = await rpc.get(h, key, false)
        expect(new TextDecoder().decode(decodeRoot(key, r.bytes).payload), `round ${round} on ${h.address}`).toBe(`${winner} wrote seq ${round + 1}`)
      }
      expect(Buffer.from(await b.blocks.get(BlockKind.ROOT, key)).equals(bytes[winner])).toBe(true)
    }
    console.log(`root race: 20 rounds, one winner each (a ${wins.a}, b ${wins.b}), loser got ROOT_CONFLICT every time`)
  })

  it('cfs status shows the blocks; HTTP /status and /keys answer JSON, POST gets 405', async () => {
    const text = (await exec(process.execPath, [CFS_BIN, 'status', '--node', seed.address])).stdout
    expect(text).toMatch(/^blocks {2}\d+ stored, \d+ bytes, k = 3, \d+ corrupt cop(y|ies) dropped$/m)
    const json = JSON.parse((await exec(process.execPath, [CFS_BIN, 'status', '--node', seed.address, '--json'])).stdout) as { blocks: { store: { blocks: unknown } } }
    expect(typeof json.blocks.store.blocks).toBe('number')
    expect(json.blocks.store.blocks).toBeGreaterThan(0)

    const base = `http://${seed.httpAddress}`
    const status = await fetch(`${base}/status`)
    expect(status.status).toBe(200)
    expect(status.headers.get('content-type')).toBe('application/json')
    const body = await status.json() as { address: string, blocks: { store: { blocks: number } } }
    expect(body.address).toBe(seed.address)
    expect(body.blocks.store.blocks).toBeGreaterThan(0)
    const keys = await fetch(`${base}/keys?limit=5`)
    expect(keys.status).toBe(200)
    const page = await keys.json() as { keys: Array<{ key: string, kind: string, size: number }>, next: string | null }
    expect(page.keys).toHaveLength(5)
    expect(page.keys.every((k) => /^[0-9a-f]{64}$/.test(k.key) && k.size > 0)).toBe(true)
    expect(page.next).toBe(page.keys[4]?.key)
    for (const path of ['/status', '/keys']) expect((await fetch(`${base}${path}`, { method: 'POST' })).status).toBe(405)
  })

  it('a graceful leave (SIGTERM) hands its blocks over: every block keeps 3 holders', async () => {
    // The restarted node leaves: the others run maintenance as usual.
    const leaver = restarted ?? live.find((d) => d !== seed)
    if (leaver === undefined) throw new Error('no node to leave')
    const keys = blocks.map((b) => b.key)
    // Start from exact placement: no surplus copies left over from the restart above (but on
    // the leaver, which runs no maintenance to hand them off).
    await waitFor('exact placement before the leave', async () => misplaced(live, keys, leaver), (m) => m.bad.length === 0, 30_000, 500)
    const held = (await listKeys(leaver)).size
    const t0 = Date.now()
    const code = new Promise<number | null>((resolve) => { leaver.process.once('exit', (c) => { resolve(c) }) })
    leaver.process.kill('SIGTERM')
    expect(await code).toBe(0)
    const leaveMs = Date.now() - t0
    const pushed = /handed off: (\d+) cop/.exec(leaver.stderr)?.[1]
    live = live.filter((d) => d !== leaver)
    const atExit = await misplaced(live, keys)
    const settled = await waitFor('every block has 3 holders after the leave', async () => misplaced(live, keys), (m) => m.bad.length === 0, 30_000, 500)
    console.log(`graceful leave: the node held ${held} blocks, pushed ${pushed ?? '?'} copies and exited 0 after ${leaveMs} ms; ` +
      `at its exit ${atExit.under}/${keys.length} blocks had fewer than 3 holders; all exactly 3 after ${settled.ms} ms more`)
    expect(pushed).toBeDefined()
    // Not asserted: that no block was short of copies at the exit. The leaver finds each block's
    // new holders by lookup, and after the kill -9 above every successor list still ends with
    // the two dead nodes (Chord never drops them from list tails in a ring smaller than the
    // list), so in some runs a dead node takes the place of a live new holder and repair, not
    // the hand-off, makes the third copy. On a ring without dead nodes the count is 0.
  })
})

describe('leases on three nodes (--max-lease-ms 2000, --repair-ms 300)', () => {
  it('refreshed blocks outlive the lease; the others are collected soon after it ends', async () => {
    const args = ['--stabilize-ms', '200', '--repair-ms', '300', '--max-lease-ms', '2000', '--http', '127.0.0.1:0']
    const first = await start(args)
    const nodes = [first, ...await Promise.all([1, 2].map(async () => start(['--join', first.address, ...args])))]
    await waitForRing(nodes)
    const lc = await client([first])
    const all = Array.from({ length: 50 }, () => randomBlock(1024, 1024))
    const keep = all.slice(0, 10)
    const drop = all.slice(10)
    for (const b of all) expect((await lc.blocks.put(BlockKind.CONTENT, b.key, b.bytes)).replicas).toBe(K)
    const putAt = Date.now() // after the last put: every lease asked for ends by putAt + 2 s

    let refreshing = true
    let refreshes = 0
    let refreshError: unknown
    let goneMs = 0
    const refresher = (async () => {
      try {
        while (refreshing) {
          const r = await lc.blocks.refresh(keep.map((b) => b.key))
          if (r.missing.length > 0) throw new Error(`refresh: ${r.missing.length} key(s) missing`)
          refreshes++
          await new Promise((resolve) => setTimeout(resolve, 400))
        }
      } catch (err) {
        refreshError = err
      }
    })()
    try {
      // Holders are watched through /keys, not through gets: a get that finds one copy left
      // would push it back to the holders that already collected theirs (repair on read).
      await waitFor('unrefreshed blocks are collected', async () => {
        const listings = await Promise.all(nodes.map(listKeys))
        return drop.filter((b) => listings.some((l) => l.has(toHex(b.key)))).length
      }, (n) => n === 0, 15_000)
      goneMs = Date.now() - putAt
      // Within a few 300 ms rounds of the lease's end, not a whole lease later: a copy one node
      // had not collected yet must not come back to the others with a fresh lease.
      expect(goneMs).toBeLessThan(3_500)
      await waitFor('past the lease', async () => Date.now() - putAt, (ms) => ms > 3_000, 5_000, 100)
    } finally {
      refreshing = false
      await refresher
    }
    expect(refreshError).toBeUndefined()
    for (const b of drop) await expect(lc.blocks.get(BlockKind.CONTENT, b.key)).rejects.toBeInstanceOf(BlockNotFoundError)
    for (const b of keep) expect(Buffer.from(await lc.blocks.get(BlockKind.CONTENT, b.key)).equals(b.bytes)).toBe(true)
    const kept = await misplaced(nodes, keep.map((b) => b.key))
    expect(kept.bad).toEqual([])
    console.log(`leases: 40 unrefreshed blocks gone from all 3 nodes ${goneMs} ms after the last put; ` +
      `10 refreshed (${refreshes} refresh rounds) still on their 3 holders ${Date.now() - putAt} ms after the put`)
    await Promise.all(nodes.map(async (d) => { await killDaemon(d) }))
  })
})

describe('quotas on three nodes (--quota-owner-mb 1)', () => {
  it('an owner past 1 MiB gets QUOTA_EXCEEDED; its earlier blocks still read back; others are unaffected', async () => {
    const args = ['--stabilize-ms', '200', '--quota-owner-mb', '1']
    const first = await start(args)
    const nodes = [first, ...await Promise.all([1, 2].map(async () => start(['--join', first.address, ...args])))]
    await waitForRing(nodes)
    const qc = await client([first])
    const owner = toHex(randomBytes(32))
    // With 3 nodes and k = 3 every node holds every block, so each node sees the owner's total.
    const stored: Array<{ key: Key, bytes: Uint8Array }> = []
    let refused: unknown
    for (let i = 0; i < 12 && refused === undefined; i++) {
      const b = randomBlock(100 * 1024, 100 * 1024)
      try {
        expect((await qc.blocks.put(BlockKind.CONTENT, b.key, b.bytes, { owner })).replicas).toBe(K)
        stored.push(b)
      } catch (err) {
        refused = err
      }
    }
    expect(stored).toHaveLength(10) // 10 × 100 KiB fit in 1 MiB; the 11th does not
    expect(refused).toBeInstanceOf(QuotaExceededError)
    expect(codeOf(refused)).toBe('QUOTA_EXCEEDED')
    const more = randomBlock(100 * 1024, 100 * 1024)
    await expect(qc.blocks.put(BlockKind.CONTENT, more.key, more.bytes, { owner })).rejects.toBeInstanceOf(QuotaExceededError)
    for (const b of stored) expect(Buffer.from(await qc.blocks.get(BlockKind.CONTENT, b.key)).equals(b.bytes)).toBe(true)
    expect((await qc.blocks.put(BlockKind.CONTENT, more.key, more.bytes, { owner: toHex(randomBytes(32)) })).replicas).toBe(K)
    await Promise.all(nodes.map(async (d) => { await killDaemon(d) }))
  })
})
