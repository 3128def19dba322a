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

function node (init: Partial<ConstructorParameters<typeof CfsNode>[0]> = {}): CfsNode {
  const n = new CfsNode({ listen: '127.0.0.1:0', dataDir: dir, chord: { stabilizeIntervalMs: 0, checkPredecessorIntervalMs: 0, fixFingersIntervalMs: 0 }, dhash: { repairIntervalMs: 0 }, ...init })
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
