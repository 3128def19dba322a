import { describe, expect, it } from 'vitest'
import { isCfsError } from '../../../src/core/index.js'
import { BlockKind, MemoryBlockCache, MemoryBlockStore, contentKey } from '../../../src/dhash/index.js'
import { MemoryNetwork } from '../../../src/net/index.js'
import { CfsNode } from '../../../src/node/index.js'
import { rejection } from '../../helpers/thrown.js'

// CfsNode is the composition root: its transport, stores, clock and randomness are components,
// so simulations run the same wiring as `cfs node`, over the in-memory network.

describe('CfsNode components', () => {
  it('runs on the transport, stores, clock and randomness it is given', async () => {
    const network = new MemoryNetwork({ seed: 1 })
    const transport = network.createTransport('10.0.0.1:4000')
    const blocks = new MemoryBlockStore()
    const cache = new MemoryBlockCache()
    let clock = 1_000_000
    let draws = 0
    const node = new CfsNode({
      transport,
      openStores: async () => { await blocks.open(); await cache.open(); return { blocks, cache } },
      now: () => clock,
      random: () => { draws++; return 0.5 },
    }, { chord: { stabilizeIntervalMs: 60_000 }, dhash: { replicas: 1, maxLeaseMs: 1_000, repairIntervalMs: 0 } })
    await node.start()
    try {
      expect(node.address).toBe('10.0.0.1:4000')
      expect(draws).toBeGreaterThan(0) // the loops' jitter drew from it
      const bytes = new TextEncoder().encode('on the given store')
      const key = contentKey(bytes)
      await node.dhash.client.put(BlockKind.CONTENT, key, bytes)
      expect(await blocks.has(key)).toBe(true) // the store it was given
      expect(Buffer.from(await node.dhash.client.get(BlockKind.CONTENT, key)).equals(bytes)).toBe(true)
      clock += 2_000 // past the 1 s lease cap, by the node's clock alone
      expect(isCfsError(await rejection(node.dhash.client.get(BlockKind.CONTENT, key)), 'BLOCK_NOT_FOUND')).toBe(true)
    } finally {
      await node.stop()
    }
  })

  it('needs a transport or an address to listen on', () => {
    expect(() => new CfsNode({}, {})).toThrow(TypeError)
  })
})
