import { afterEach, describe, expect, it } from 'vitest'
import { toHex, type Key } from '../../src/core/index.js'
import { BlockKind } from '../../src/dhash/index.js'
import { SimDHash } from '../helpers/sim-dhash.js'

// Seeded simulations of DHash over the in-memory network. Failures print the seed.

let sim: SimDHash | undefined
afterEach(async () => { await sim?.destroy(); sim = undefined })

async function misplaced (s: SimDHash, keys: Key[]): Promise<string[]> {
  const bad: string[] = []
  for (const key of keys) {
    const want = s.referenceHolders(key)
    const have = await s.holders(key)
    if (JSON.stringify(want) !== JSON.stringify(have)) bad.push(`${toHex(key).slice(0, 12)} want=${want.join(',')} have=${have.join(',')}`)
  }
  return bad
}

describe('DHash on a 200-node ring, k = 3', () => {
  it('seed 11: puts land on exactly the k reference holders', async () => {
    const seed = 11
    sim = await SimDHash.create({ nodes: 200, seed }, { replicas: 3 })
    const puts = await sim.putRandom(500, 512)
    expect(puts.every((p) => p.replicas === 3), `seed=${seed}`).toBe(true)
    expect(await misplaced(sim, puts.map((p) => p.key)), `seed=${seed}`).toEqual([])
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
      expect(await misplaced(s, keys), `seed=${seed} round ${round}`).toEqual([])
    }
    console.log(`dhash churn seed=${seed}:`, JSON.stringify(report))
  })
})
