import { format } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { ChordNode, ChordRpcServer, makeNodeRef, nodeIdFor, toWire, type NodeRef } from '../../../src/chord/index.js'
import { toHex, type ComponentLogger } from '../../../src/core/index.js'
import { MemoryNetwork, type MemoryTransport } from '../../../src/net/index.js'
import { errorCode } from '../../helpers/thrown.js'

// A record is only as good as the link that proves it: a node's record pins its endpoint's
// identity key, every call to it is pinned to that key, and a request that carries its
// sender's own record (chord.notify, chord.leave) must carry the key its sender proved.

const key = (b: number): Uint8Array => new Uint8Array(32).fill(b)
const NO_TIMERS = { stabilizeIntervalMs: 0, fixFingersIntervalMs: 0, checkPredecessorIntervalMs: 0 }

function recordingLogger (): { logger: ComponentLogger, errors: string[] } {
  const errors: string[] = []
  const error = (fmt: string, ...args: unknown[]): void => { errors.push(format(fmt, ...args)) }
  return { errors, logger: { forComponent: () => Object.assign(() => {}, { error, trace: () => {} }) } }
}

const transports: MemoryTransport[] = []
const nodes: ChordNode[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop()
  for (const t of transports.splice(0)) await t.stop()
})

async function endpoint (network: MemoryNetwork, address: string, publicKey: Uint8Array | undefined): Promise<MemoryTransport> {
  const t = network.createTransport(address, publicKey === undefined ? {} : { publicKey })
  transports.push(t)
  await t.start()
  return t
}

async function chordNode (network: MemoryNetwork, address: string, publicKey: Uint8Array, logger?: ComponentLogger): Promise<ChordNode> {
  const t = await endpoint(network, address, publicKey)
  const node = new ChordNode({ transport: t, server: new ChordRpcServer(t, logger) }, NO_TIMERS)
  nodes.push(node)
  await node.start()
  return node
}

/** Nodes a and b in a ring of two, a's server logging to `log`, and an outsider o with its own key. */
async function ringOfTwo (): Promise<{ a: ChordNode, b: ChordNode, o: MemoryTransport, network: MemoryNetwork, log: string[] }> {
  const network = new MemoryNetwork({ seed: 3 })
  const { logger, errors } = recordingLogger()
  const a = await chordNode(network, '10.7.0.1:4000', key(0xa), logger)
  const b = await chordNode(network, '10.7.0.2:4000', key(0xb))
  await b.join(a.self)
  await b.stabilizeOnce()
  await a.stabilizeOnce()
  expect(a.predecessor()).toBe(b.self)
  const o = await endpoint(network, '10.7.0.9:4000', key(0x0))
  return { a, b, o, network, log: errors }
}

describe('a node\'s own record carries its pin', () => {
  it('from its transport\'s key, on the wire, and into its neighbours\' tables', async () => {
    const { a, b } = await ringOfTwo()
    expect(a.self.key).toEqual(key(0xa))
    expect(toWire(a.self).k).toEqual(key(0xa))
    expect(b.successors()[0]?.key).toEqual(key(0xa))
    expect(a.predecessor()?.key).toEqual(key(0xb))
  })

  it('a call pinned to the record\'s key reaches the node; pinned to another, it is refused unsent', async () => {
    const { a, o } = await ringOfTwo()
    const ping = { to: a.self.id }
    const pong = await o.request(a.self.address, 'chord.ping', ping, { peerKey: key(0xa) }) as { id: Uint8Array }
    expect(toHex(pong.id)).toBe(a.self.hex)
    expect(await errorCode(o.request(a.self.address, 'chord.ping', ping, { peerKey: key(0xe) }))).toBe('NODE_UNREACHABLE')
  })
})

describe('a request that carries its sender\'s own record', () => {
  it('chord.notify claiming another node\'s record, or its own address with another key, or no key: FORBIDDEN, nothing changes', async () => {
    const { a, b, o } = await ringOfTwo()
    const notify = async (node: unknown): Promise<string> => errorCode(o.request(a.self.address, 'chord.notify', { to: a.self.id, node }))
    expect(await notify(toWire(b.self))).toBe('FORBIDDEN')
    const own = { id: nodeIdFor(o.address, 0), addr: o.address, v: 0 }
    expect(await notify({ ...own, k: key(0xb) })).toBe('FORBIDDEN')
    expect(await notify(own)).toBe('FORBIDDEN')
    expect(a.predecessor()).toBe(b.self)
    expect(a.successors()).toEqual([b.self])
  })

  it('chord.leave claiming another node\'s record: FORBIDDEN, and the node stays in the tables', async () => {
    const { a, b, o } = await ringOfTwo()
    expect(await errorCode(o.request(a.self.address, 'chord.leave', { to: a.self.id, leaving: toWire(b.self), succs: [] }))).toBe('FORBIDDEN')
    expect(a.predecessor()).toBe(b.self)
    expect(a.successors()).toEqual([b.self])
  })

  it('the sender\'s own record, pinned to the key it proved, is taken as before', async () => {
    const { a, b, network } = await ringOfTwo()
    const c = await chordNode(network, '10.7.0.3:4000', key(0xc))
    await c.join(a.self)
    await c.stabilizeOnce() // c notifies its successor with its own record
    await b.stabilizeOnce()
    await a.stabilizeOnce()
    // A ring of three: every node is someone's predecessor, c (by its notify) included.
    expect([a, b, c].map((n) => n.predecessor()?.address).sort()).toEqual([a, b, c].map((n) => n.self.address).sort())
    expect([a, b].find((n) => n.predecessor()?.hex === c.self.hex)?.predecessor()?.key).toEqual(key(0xc))
  })

  it('on a link that proves no key (plaintext), the record is taken as claimed, as before', async () => {
    const { a, b, network } = await ringOfTwo()
    const plain = await endpoint(network, '10.7.0.8:4000', undefined)
    expect(await errorCode(plain.request(a.self.address, 'chord.notify', { to: a.self.id, node: toWire(b.self) }))).toBe('ok')
  })

  it('a forged record (an id its address does not derive) is BAD_REQUEST, in the sender\'s place or a hand-over', async () => {
    const { a, b, o } = await ringOfTwo()
    const forged = { ...toWire(makeNodeRef(o.address, 0, key(0x0))), id: b.self.id }
    expect(await errorCode(o.request(a.self.address, 'chord.notify', { to: a.self.id, node: forged }))).toBe('BAD_REQUEST')
    const mine = toWire(makeNodeRef(o.address, 0, key(0x0)))
    expect(await errorCode(o.request(a.self.address, 'chord.leave', { to: a.self.id, leaving: mine, pred: forged }))).toBe('BAD_REQUEST')
    expect(a.predecessor()).toBe(b.self)
  })

  it('refusals are logged at most once per peer per 30 s, each peer on its own', async () => {
    const { a, b, o, network, log } = await ringOfTwo()
    const other = await endpoint(network, '10.7.0.10:4000', key(0x1))
    for (let i = 0; i < 10; i++) await errorCode(o.request(a.self.address, 'chord.notify', { to: a.self.id, node: toWire(b.self) }))
    expect(log).toHaveLength(1)
    expect(log[0]).toMatch(/chord\.notify.*10\.7\.0\.2:4000.*key 00000000/)
    const forged = { ...toWire(b.self), id: a.self.id }
    await errorCode(o.request(a.self.address, 'chord.notify', { to: a.self.id, node: forged }))
    expect(log).toHaveLength(1) // the same peer, within 30 s
    await errorCode(other.request(a.self.address, 'chord.notify', { to: a.self.id, node: forged }))
    expect(log).toHaveLength(2)
    expect(log[1]).toMatch(/forged node record 10\.7\.0\.2:4000\/0.*key 01010101/)
  })
})

describe('Router.knowsPeer', () => {
  it('knows the keys of the nodes in the routing state, its own included, and not an outsider\'s', async () => {
    const { a, b } = await ringOfTwo()
    expect(a.knowsPeer(key(0xb))).toBe(true)
    expect(a.knowsPeer(key(0xa))).toBe(true)
    expect(a.knowsPeer(key(0x0))).toBe(false)
    const seen: NodeRef | undefined = b.predecessor()
    expect(seen?.key).toEqual(key(0xa))
  })
})
