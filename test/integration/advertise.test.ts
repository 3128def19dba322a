import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { toHex } from '../../src/core/index.js'
import { nodeIdFor } from '../../src/chord/index.js'
import { queryStatus } from '../../src/node/index.js'
import { killDaemon, runCfs, spawnDaemon, type Daemon } from '../helpers/daemon.js'
import { waitForRing } from '../helpers/ring-settled.js'

// `cfs node --listen 0.0.0.0:P --advertise 127.0.0.1:P`: the node accepts on every interface
// and is known to its peers (and hashed into its id) by the address it advertises.

const spawned: Daemon[] = []
afterAll(async () => { for (const d of spawned) await killDaemon(d) })

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

describe('cfs node --advertise', () => {
  it('listens on 0.0.0.0, is known by the advertised address, and its id derives from it', async () => {
    const port = await freePort()
    const advertised = `127.0.0.1:${port}`
    const a = await spawnDaemon(['--advertise', advertised, '--stabilize-ms', '100'], 20_000, { listen: `0.0.0.0:${port}` })
    spawned.push(a)
    expect(a.address).toBe(advertised)
    expect(a.id).toBe(toHex(nodeIdFor(advertised, 0)))
    const b = await spawnDaemon(['--join', advertised, '--stabilize-ms', '100'])
    spawned.push(b)
    await waitForRing([a, b], 30_000)
    const seen = await queryStatus(b.address)
    expect(seen.vnodes[0]?.successors[0]).toMatchObject({ address: advertised, id: a.id })
    expect((await queryStatus(advertised)).address).toBe(advertised)
  })
})

describe('a node named by an address it does not advertise', () => {
  it('is joined and used through it: the ring asks the endpoint who it is (chord.vnodes)', async () => {
    const port = await freePort()
    const advertised = `127.0.0.2:${port}`
    const local = `127.0.0.1:${port}` // the same socket, but not the address its id derives from
    const a = await spawnDaemon(['--advertise', advertised, '--stabilize-ms', '100'], 20_000, { listen: `0.0.0.0:${port}` })
    spawned.push(a)
    const b = await spawnDaemon(['--join', local, '--stabilize-ms', '100'])
    spawned.push(b)
    await waitForRing([a, b], 30_000)
    expect((await queryStatus(b.address)).vnodes[0]?.successors[0]).toMatchObject({ address: advertised, id: a.id })
    const dir = await mkdtemp(join(tmpdir(), 'cfs-advertise-'))
    try {
      const key = join(dir, 'owner.key')
      expect((await runCfs(['keygen', key])).code).toBe(0)
      const file = join(dir, 'f.txt')
      await writeFile(file, 'through the local address\n')
      const put = await runCfs(['put', file, '/f.txt', '--key', key, '--ring', local, '--data', join(dir, 'c')])
      expect(put.code, put.stderr).toBe(0)
      const cat = await runCfs(['cat', '/f.txt', '--key', key, '--ring', local, '--data', join(dir, 'd')])
      expect(cat.stdout).toBe('through the local address\n')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
