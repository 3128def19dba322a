import { afterEach, describe, expect, it } from 'vitest'
import { ChordClient } from '../../../src/chord/chord-client.js'
import { makeNodeRef, type NodeRef } from '../../../src/chord/node-ref.js'
import { RoutingTable } from '../../../src/chord/routing-table.js'
import { ChordRpcServer } from '../../../src/chord/rpc/server.js'
import { MemoryNetwork, type MemoryTransport } from '../../../src/net/index.js'

// `succs` in chord.next and chord.state lets a caller that needs only the first successor
// (finger rebuilds) ask for small replies. Without it, replies carry the whole list as before.

const transports: MemoryTransport[] = []
afterEach(async () => { for (const t of transports.splice(0)) await t.stop() })

async function serving (): Promise<{ client: ChordClient, self: NodeRef, succs: NodeRef[] }> {
  const network = new MemoryNetwork({ seed: 1 })
  const server = network.createTransport('10.0.0.1:4000')
  const caller = network.createTransport('10.0.0.2:4000')
  transports.push(server, caller)
  await server.start()
  await caller.start()
  const self = makeNodeRef(server.address, 0)
  const table = new RoutingTable(self)
  // Ten successors clockwise from self, and a predecessor: sorted by distance from self.
  const others = Array.from({ length: 11 }, (_, i) => makeNodeRef(`10.0.1.${i + 1}:4000`, 0))
    .sort((a, b) => ((a.hex > self.hex ? '0' : '1') + a.hex < (b.hex > self.hex ? '0' : '1') + b.hex ? -1 : 1))
  const succs = others.slice(0, 10)
  table.setSuccessors(succs)
  table.setPredecessor(others[10])
  new ChordRpcServer(server).add({ self, table, handleNotify: async () => {}, handleLeave: () => {} })
  return { client: new ChordClient(caller, 1_000), self, succs }
}

describe('reply limits', () => {
  it('chord.state: every successor by default, at most `succs` when asked', async () => {
    const { client, self, succs } = await serving()
    expect((await client.state(self)).succs).toEqual(succs)
    expect((await client.state(self, {}, 3)).succs).toEqual(succs.slice(0, 3))
    const bare = await client.state(self, {}, 0)
    expect(bare.succs).toEqual([])
    expect(bare.pred).toBeDefined()
  })

  it('chord.next: a done answer carries at most `succs` nodes; candidates are unaffected', async () => {
    const { client, self, succs } = await serving()
    const key = (succs[0] as NodeRef).id // in (self, first successor]: done
    expect((await client.next(self, key, 3)).nodes).toEqual(succs)
    expect(await client.next(self, key, 3, {}, 1)).toEqual({ done: true, nodes: [succs[0]] })
    const far = (succs[9] as NodeRef).id // past the first successor: candidates
    const hop = await client.next(self, far, 3, {}, 1)
    expect(hop.done).toBe(false)
    expect(hop.nodes).toHaveLength(3)
  })
})
