import { afterEach, describe, expect, it } from 'vitest'
import { toHex, type Key } from '../../src/core/index.js'
import { BlockKind, contentKey, encodeRoot, generateSecretKey, publicKeyOf, rootKey } from '../../src/dhash/index.js'
import { SimDHash, type SimDHashHost } from '../helpers/sim-dhash.js'
import { waitFor } from '../helpers/poll.js'
import { errorCode } from '../helpers/thrown.js'

// Seeded simulations of DHash over the in-memory network. Failures print the seed.

let sim: SimDHash | undefined
afterEach(async () => { await sim?.destroy(); sim = undefined })

describe('DHash on a 200-node ring, k = 3', () => {
  it('seed 11: puts land on exactly the k reference holders', async () => {
    const seed = 11
    sim = await SimDHash.create({ nodes: 200, seed }, { replicas: 3 })
    const puts = await sim.putRandom(500, 512)
    expect(puts.every((p) => p.replicas === 3), `seed=${seed}`).toBe(true)
    expect(await sim.misplaced(puts.map((p) => p.key)), `seed=${seed}`).toEqual([])
  })

  it('seed 12: churn; after repair every block has exactly k live replicas and none is lost', async () => {
    const seed = 12
    sim = await SimDHash.create({ nodes: 200, seed }, { replicas: 3 })
    const s = sim
    const keys = (await s.putRandom(600, 256)).map((p) => p.key)
    const report: Array<{ round: number, crashed: number, joined: number, repairRounds: number, lost: number }> = []
    for (let round = 0; round < 6; round++) {
      // Between repairs at most k - 1 = 2 of any block's holders fail: 2 crashes a round.
      const victims = s.ring.random.shuffle([...s.live()]).slice(0, 2)
      await s.crash(victims)
      for (let i = 0; i < 3; i++) await s.join()
      await s.ring.stabilize(30)
      await s.ring.fixFingers()
      const repairRounds = await s.repairUntilQuiet()
      let lost = 0
      for (const key of keys) {
        try {
          await s.randomLive().dhash.client.get(BlockKind.CONTENT, key)
        } catch {
          lost++
        }
      }
      report.push({ round, crashed: victims.length, joined: 3, repairRounds, lost })
      expect(lost, `seed=${seed} round ${round}`).toBe(0)
      expect(await s.misplaced(keys), `seed=${seed} round ${round}`).toEqual([])
    }
    console.log(`dhash churn seed=${seed}:`, JSON.stringify(report))
  })
})

describe('DHash integrity on a 20-node ring, k = 3', () => {
  it('seed 13: a flipped byte on one holder is never returned, and the copy is replaced', async () => {
    const seed = 13
    sim = await SimDHash.create({ nodes: 20, seed }, { replicas: 3 })
    const s = sim
    const [put] = await s.putRandom(1, 4096)
    const key = (put as { key: Key }).key
    const victims = s.live().filter((h) => s.referenceHolders(key).includes(h.address))
    for (const victim of victims.slice(0, 2)) {
      const stored = await victim.blocks.get(key)
      const bad = new Uint8Array(stored?.bytes ?? [])
      bad[100] = (bad[100] as number) ^ 0xff
      await victim.blocks.put(key, { ...(stored as NonNullable<typeof stored>), bytes: bad })
    }
    // Two of three copies are bad: every read still returns the good bytes.
    for (let i = 0; i < 10; i++) {
      const got = await s.randomLive().dhash.client.get(BlockKind.CONTENT, key)
      expect(toHex(contentKey(got)), `seed=${seed}`).toBe(toHex(key))
    }
    // Readers handed good copies back to the holders that served bad ones.
    await new Promise((resolve) => setTimeout(resolve, 50))
    for (const victim of victims) {
      const copy = await victim.blocks.get(key)
      expect(copy !== undefined && toHex(contentKey(copy.bytes)) === toHex(key), `seed=${seed} ${victim.address}`).toBe(true)
    }
  })

  it('seed 14: the scrub drops a corrupt copy no reader touched, and repair restores it', async () => {
    const seed = 14
    sim = await SimDHash.create({ nodes: 20, seed }, { replicas: 3 })
    const s = sim
    const [put] = await s.putRandom(1, 4096)
    const key = (put as { key: Key }).key
    const victim = s.live().find((h) => s.referenceHolders(key).includes(h.address)) as SimDHashHost
    const stored = await victim.blocks.get(key)
    await victim.blocks.put(key, { ...(stored as NonNullable<typeof stored>), bytes: new Uint8Array(4096) })
    const report = await victim.dhash.repairOnce()
    expect(report.corrupt, `seed=${seed}`).toBe(1)
    await s.repairUntilQuiet()
    const copy = await victim.blocks.get(key)
    expect(copy !== undefined && toHex(contentKey(copy.bytes)) === toHex(key), `seed=${seed}`).toBe(true)
  })
})

describe('under-replicated keys in the maintenance report (12 nodes, k = 3)', () => {
  it('seed 15: after a crash each key that lost a holder is counted once, by its primary, and none once repaired', async () => {
    const seed = 15
    sim = await SimDHash.create({ nodes: 12, seed }, { replicas: 3 })
    const s = sim
    const keys = (await s.putRandom(300, 128)).map((p) => p.key)
    await s.repairUntilQuiet()
    const round = async (): Promise<number> => {
      let n = 0
      for (const h of s.live()) n += (await h.dhash.repairOnce()).underReplicated
      return n
    }
    expect(await round(), `seed=${seed}`).toBe(0)
    const victim = s.ring.random.pick(s.live())
    const lost = keys.filter((k) => s.referenceHolders(k).includes(victim.address)).length
    await s.crash([victim])
    await s.ring.stabilize(30)
    await s.ring.fixFingers()
    expect(await round(), `seed=${seed}: keys that had ${victim.address} as a holder`).toBe(lost)
    expect(await round(), `seed=${seed}`).toBe(0)
    console.log(`under-replicated seed=${seed}: ${lost} of ${keys.length} keys after one crash, 0 after one repair round`)
  })

  it('seed 16: with fewer endpoints than k every key is under-replicated', async () => {
    const seed = 16
    sim = await SimDHash.create({ nodes: 2, seed }, { replicas: 3 })
    const keys = await sim.putRandom(20, 64)
    let n = 0
    for (const h of sim.live()) n += (await h.dhash.repairOnce()).underReplicated
    expect(n, `seed=${seed}`).toBe(keys.length)
  })
})

describe('Root watches on a 20-node ring, k = 3', () => {
  // The owner's key comes from the seed like every other choice, so a seed names one placement of the root.
  let sk: Uint8Array
  let rk: Key
  const keyFrom = (s: SimDHash): void => { sk = s.ring.random.bytes(32); rk = rootKey(publicKeyOf(sk)) }
  const root = (seq: number): Uint8Array => encodeRoot(sk, seq, new TextEncoder().encode(`version ${seq}`))
  const hexOf = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : toHex(b))
  const watchers = (s: SimDHash): number => s.live().reduce((n, h) => n + h.dhash.stats().watching, 0)

  it('seed 18: a watcher is told of a newer root as soon as it is put, and follows the root to new holders after a crash', async () => {
    const seed = 18
    sim = await SimDHash.create({ nodes: 20, seed }, { replicas: 3 })
    const s = sim
    keyFrom(s)
    // Owner and reader both off the root's holders: a holder crashes below, and the owner must outlive it.
    const others = s.ring.random.shuffle<SimDHashHost>(s.live().filter((h) => !s.referenceHolders(rk).includes(h.address)))
    const owner = others[0] as SimDHashHost
    const reader = others[1] as SimDHashHost
    await owner.dhash.client.put(BlockKind.ROOT, rk, root(1))

    // Nothing newer: the watch waits at all k holders, then answers nothing.
    expect(await reader.dhash.client.watchRoot(rk, 1, { waitMs: 50 }), `seed=${seed}`).toBeUndefined()

    const watching = reader.dhash.client.watchRoot(rk, 1, { waitMs: 60_000 })
    await waitFor('a watch at each of the 3 holders', async () => watchers(s) === 3, (ok) => ok, 10_000, 5)
    await owner.dhash.client.put(BlockKind.ROOT, rk, root(2))
    expect(hexOf(await watching), `seed=${seed}`).toBe(toHex(root(2)))
    await waitFor('the other watches dropped', async () => watchers(s) === 0, (ok) => ok, 10_000, 5)

    // Already behind: answered at once.
    expect(hexOf(await reader.dhash.client.watchRoot(rk, 1, { waitMs: 60_000 })), `seed=${seed}`).toBe(toHex(root(2)))

    // A holder crashes while watched: the others still answer; the next watch finds the new holder.
    const first = reader.dhash.client.watchRoot(rk, 2, { waitMs: 60_000 })
    await waitFor('a watch at each of the 3 holders', async () => watchers(s) === 3, (ok) => ok, 10_000, 5)
    const victim = s.live().find((h) => h.address === s.referenceHolders(rk)[0]) as SimDHashHost
    await s.crash([victim])
    await s.ring.stabilize(10)
    await s.repairUntilQuiet()
    await owner.dhash.client.put(BlockKind.ROOT, rk, root(3))
    expect(hexOf(await first), `seed=${seed}`).toBe(toHex(root(3)))
    const second = reader.dhash.client.watchRoot(rk, 3, { waitMs: 60_000 })
    await waitFor('a watch at each of the 3 live holders', async () => watchers(s) === 3, (ok) => ok, 10_000, 5)
    const holders = new Set(s.referenceHolders(rk))
    expect(s.live().filter((h) => h.dhash.stats().watching > 0).every((h) => holders.has(h.address)), `seed=${seed}`).toBe(true)
    await owner.dhash.client.put(BlockKind.ROOT, rk, root(4))
    expect(hexOf(await second), `seed=${seed}`).toBe(toHex(root(4)))
  })

  it('seed 19: a holder that answers a watch with a forged or old root is not believed', async () => {
    const seed = 19
    sim = await SimDHash.create({ nodes: 20, seed }, { replicas: 3 })
    const s = sim
    keyFrom(s)
    const owner = s.randomLive()
    await owner.dhash.client.put(BlockKind.ROOT, rk, root(5))
    const reader = s.live().find((h) => h !== owner) as SimDHashHost
    // Another key's root stored under this key is refused on put: a forged root cannot reach a watcher.
    const forged = encodeRoot(generateSecretKey(), 6, new TextEncoder().encode('forged'))
    expect(await errorCode(owner.dhash.client.put(BlockKind.ROOT, rk, forged))).toBe('BLOCK_INVALID')
    expect(await reader.dhash.client.watchRoot(rk, 5, { waitMs: 50 }), `seed=${seed}`).toBeUndefined()
  })
})
