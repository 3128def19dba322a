import { once } from 'node:events'
import { access, mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isCfsError } from '../../src/core/index.js'
import { CfsNode } from '../../src/node/index.js'
import { rejection } from '../helpers/thrown.js'

// CfsNode.start() in this process: a start refused its data directory or an address fails
// with a stable code and leaves nothing open behind it (no listener, no lock, no pid file).

let dir: string
let nodes: CfsNode[]

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfs-node-start-'))
  nodes = []
})

afterEach(async () => {
  for (const n of nodes) await n.stop()
  await rm(dir, { recursive: true, force: true })
})

function node (init: Partial<ConstructorParameters<typeof CfsNode>[1]> = {}): CfsNode {
  const n = new CfsNode({}, { listen: '127.0.0.1:0', dataDir: dir, chord: { stabilizeIntervalMs: 0, checkPredecessorIntervalMs: 0, fixFingersIntervalMs: 0 }, dhash: { repairIntervalMs: 0 }, ...init })
  nodes.push(n)
  return n
}

describe('CfsNode.start', () => {
  it('a second node on a data directory in use: STORE_LOCKED naming this process, and it never listened', async () => {
    await node().start()
    const second = node()
    const err = await rejection(second.start())
    expect(isCfsError(err, 'STORE_LOCKED'), String(err)).toBe(true)
    expect((err as Error).message).toContain(`process ${process.pid}`)
    expect(second.address).toBe('')
  })

  it('a taken listen address: ADDRESS_IN_USE, and the data directory is free again', async () => {
    const blocker = net.createServer()
    blocker.listen(0, '127.0.0.1')
    await once(blocker, 'listening')
    try {
      const port = (blocker.address() as net.AddressInfo).port
      const err = await rejection(node({ listen: `127.0.0.1:${port}` }).start())
      expect(isCfsError(err, 'ADDRESS_IN_USE'), String(err)).toBe(true)
      await expect(access(join(dir, 'cfs.pid'))).rejects.toMatchObject({ code: 'ENOENT' })
      const httpErr = await rejection(node({ http: `127.0.0.1:${port}` }).start())
      expect(isCfsError(httpErr, 'ADDRESS_IN_USE'), String(httpErr)).toBe(true)
      await node().start() // the two failed starts hold nothing
    } finally {
      blocker.close()
    }
  })
})

describe('CfsNode lifecycle (Startable)', () => {
  /** A node with its blocks in memory (no data directory), its loops on short real timers. */
  function memoryNode (init: Partial<ConstructorParameters<typeof CfsNode>[1]> = {}): CfsNode {
    const n = new CfsNode({}, { listen: '127.0.0.1:0', chord: { stabilizeIntervalMs: 5, checkPredecessorIntervalMs: 5, fixFingersIntervalMs: 5 }, dhash: { repairIntervalMs: 5 }, ...init })
    nodes.push(n)
    return n
  }

  async function refused (address: string): Promise<boolean> {
    const [host, port] = address.split(':') as [string, string]
    const socket = net.connect(Number(port), host)
    try {
      await once(socket, 'connect')
      return false
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED'
    } finally {
      socket.destroy()
    }
  }

  it('start twice (in turn or at once) is one start; stop twice is one stop; then it starts again', async () => {
    const n = memoryNode()
    await Promise.all([n.start(), n.start()])
    const address = n.address
    await n.start()
    expect(n.address).toBe(address)
    expect(n.vnodes).toHaveLength(1)
    expect(n.status().vnodes).toHaveLength(1)
    await Promise.all([n.stop(), n.stop()])
    await n.stop()
    expect(await refused(address)).toBe(true)
    await n.start() // a stopped node starts afresh: one vnode again, serving
    expect(n.vnodes).toHaveLength(1)
    expect(n.vnodes[0]?.successors()).toEqual([])
    expect(await refused(n.address)).toBe(false)
    await n.stop()
  })

  it('stop before start, and stop after a failed start, are no-ops', async () => {
    await memoryNode().stop()
    const blocker = net.createServer()
    blocker.listen(0, '127.0.0.1')
    await once(blocker, 'listening')
    try {
      const n = memoryNode({ listen: `127.0.0.1:${(blocker.address() as net.AddressInfo).port}` })
      const err = await rejection(n.start())
      expect(isCfsError(err, 'ADDRESS_IN_USE'), String(err)).toBe(true)
      await n.stop()
      await n.stop()
    } finally {
      blocker.close()
    }
  })

  it('stop during a start aborts it: the start fails with SHUTTING_DOWN and leaves nothing open', async () => {
    const n = memoryNode()
    const starting = n.start()
    await n.stop()
    const err = await rejection(starting)
    expect(isCfsError(err, 'SHUTTING_DOWN'), String(err)).toBe(true)
    await n.start()
    expect(n.vnodes).toHaveLength(1)
    await n.stop()
  })

  it('stop with the loops running (LevelDB under them) releases the data directory', async () => {
    const n = memoryNode({ dataDir: join(dir, 'loops') })
    await n.start()
    // Once a repair round has run, stop lands before, during or after the next one: any is fine.
    await expect.poll(() => n.dhash.stats().lastRepair !== undefined, { interval: 5, timeout: 10_000 }).toBe(true)
    await n.stop()
    await n.start() // the data directory was released cleanly
    await n.stop()
  })
})
