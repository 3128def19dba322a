import { afterEach, describe, expect, it } from 'vitest'
import { isCfsError } from '../../src/core/index.js'
import { Reader, Volume } from '../../src/fs/index.js'
import { SimDHash, type SimDHashHost } from '../helpers/sim-dhash.js'
import { newOwner } from '../helpers/memory-block-service.js'

// Two owner volumes of one key on the two sides of a partition of a 20-node ring (k = 3,
// at least 2 holders per publication). Each side re-forms a ring of its own and each volume
// publishes what it can there. After healing, the two must not both go on: the first
// publication that reaches the root's primary wins, and the other volume's next one is
// refused (ROOT_CONFLICT) from then on. A reader sees the winner's tree, with every change
// the winner published. Seeded: failures print the seed.

let sim: SimDHash | undefined
afterEach(async () => { await sim?.destroy(); sim = undefined })

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)
const outcome = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (err: unknown) => (isCfsError(err) ? err.code : String(err)))

describe('two owners of one volume on both sides of a partition', () => {
  for (const seed of [20, 21, 22]) {
    it(`seed ${seed}: after healing exactly one goes on, and readers see its tree`, async () => {
      sim = await SimDHash.create({ nodes: 20, seed }, { replicas: 3 })
      const s = sim
      const owner = newOwner()
      const hosts = s.ring.random.shuffle<SimDHashHost>(s.live())
      const left = hosts.slice(0, 10)
      const right = hosts.slice(10)
      const volumeAt = (h: SimDHashHost): Volume =>
        new Volume({ blocks: h.dhash.client, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0 })
      const a = volumeAt(left[0] as SimDHashHost)
      await a.start()
      await a.create('/before')
      await a.write('/before', 0, enc('published before the partition'))
      await a.sync()
      const b = volumeAt(right[0] as SimDHashHost)
      await b.start()

      s.ring.network.partition([left.map((h) => h.address), right.map((h) => h.address)])
      await s.ring.stabilize(40)
      await s.repairUntilQuiet()
      // A side may lack blocks of the tree held only on the other (BLOCK_NOT_FOUND), or the
      // root's holders (a publication refused): what each side manages is logged.
      const change = async (v: Volume, name: string, text: string): Promise<void> => {
        await v.create(name)
        await v.write(name, 0, enc(text))
        await v.sync()
      }
      const during = [await outcome(change(a, '/a', 'written on the left')), await outcome(change(b, '/b', 'written on the right'))]

      s.ring.network.heal()
      await s.ring.stabilize(60)
      await s.ring.fixFingers()
      await s.repairUntilQuiet()
      const again = async (v: Volume, name: string, text: string): Promise<void> => {
        await v.create(name).catch(() => {}) // made during the partition if that went through
        await v.write(name, 0, enc(text))
        await v.sync()
      }
      const after = [await outcome(again(a, '/a', 'WRITTEN on the left')), await outcome(again(b, '/b', 'WRITTEN on the right'))]
      console.log(`split brain seed=${seed}: during the partition left ${during[0]}, right ${during[1]}; after healing left ${after[0]}, right ${after[1]}`)

      expect(after.filter((o) => o === 'ok').length, `seed=${seed}`).toBeLessThanOrEqual(1)
      for (const o of after) expect(['ok', 'ROOT_CONFLICT'], `seed=${seed}`).toContain(o)
      // A refused volume stays refused.
      const losers = [a, b].filter((_, i) => after[i] !== 'ok')
      for (const v of losers) expect(await outcome(v.sync()), `seed=${seed}`).toBe('ROOT_CONFLICT')

      const reader = new Reader({ blocks: (right[1] as SimDHashHost).dhash.client, verifier: owner.verifier })
      const latest = await reader.latest(owner.signer.publicKey)
      expect(dec(await latest.read('/before', 0, 100)), `seed=${seed}`).toBe('published before the partition')
      const winner = after.indexOf('ok')
      if (winner >= 0) {
        const name = winner === 0 ? '/a' : '/b'
        expect(dec(await latest.read(name, 0, 100)), `seed=${seed}`).toBe(winner === 0 ? 'WRITTEN on the left' : 'WRITTEN on the right')
      }
      await a.stop()
      await b.stop()
    })
  }
})
