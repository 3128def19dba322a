import { MemoryBlockService } from '../helpers/memory-block-service.js'
import { SimDHash } from '../helpers/sim-dhash.js'
import { blockServiceContract } from './block-service-contract.js'

blockServiceContract('MemoryBlockService (the fs and fuse tiers\' stand-in)', async () => ({
  blocks: new MemoryBlockService(),
  cleanup: async () => {},
}))

let seed = 100
blockServiceContract('DHashClient on a simulated 12-node ring, k = 3', async () => {
  const sim = await SimDHash.create({ nodes: 12, seed: seed++ }, { replicas: 3 })
  return { blocks: sim.randomLive().dhash.client, cleanup: async () => { await sim.destroy() } }
})
