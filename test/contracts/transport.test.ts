import { randomBytes } from 'node:crypto'
import net, { type AddressInfo } from 'node:net'
import { MemoryNetwork, TcpTransport, type Transport } from '../../src/net/index.js'
import { transportContract } from './transport-contract.js'

/** Stops every transport in `all`, including ones added while stopping. */
async function stopAll (all: Transport[]): Promise<void> {
  await Promise.all(all.map(async (t) => { await t.stop() }))
}

transportContract('MemoryTransport', async () => {
  const network = new MemoryNetwork()
  const all: Transport[] = []
  const make = async (address: string): Promise<Transport> => {
    const t = network.createTransport(address, { publicKey: new Uint8Array(randomBytes(32)) })
    all.push(t)
    await t.start()
    return t
  }
  return {
    a: await make('mem-a'),
    b: await make('mem-b'),
    c: await make('mem-c'),
    deadAddress: 'mem-nobody',
    listenAt: make,
    cleanup: async () => { await stopAll(all) },
  }
})

/** A port that was free a moment ago: listen on 0, note the port, close. */
async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

transportContract('TcpTransport', async () => {
  const all: Transport[] = []
  const make = async (listen: string): Promise<Transport> => {
    const t = new TcpTransport({}, { listen })
    all.push(t)
    await t.start()
    return t
  }
  return {
    a: await make('127.0.0.1:0'),
    b: await make('127.0.0.1:0'),
    c: await make('127.0.0.1:0'),
    deadAddress: `127.0.0.1:${await freePort()}`,
    listenAt: make,
    cleanup: async () => { await stopAll(all) },
  }
})
