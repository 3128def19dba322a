import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IDENTITY_FILE, type LinkInit } from '../../src/node/index.js'
import { killDaemon, runCfs, spawnDaemon, type Daemon } from '../helpers/daemon.js'
import { waitForRing } from '../helpers/ring-settled.js'

/*
 * A private ring: two `cfs node` processes share a ring secret. A node without it cannot join,
 * a client without it is answered FORBIDDEN, and the nodes say whom they refused. Each node
 * keeps its link identity in its data directory across restarts.
 */
describe('a private ring (--ring-secret)', () => {
  const spawned: Daemon[] = []
  let dir: string
  let secret: string
  let wrong: string
  let a: Daemon
  let b: Daemon
  let link: LinkInit

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cfs-private-'))
    secret = join(dir, 'ring.secret')
    wrong = join(dir, 'other.secret')
    await writeFile(secret, randomBytes(32))
    await writeFile(wrong, randomBytes(32))
    link = { ringSecret: new Uint8Array(await readFile(secret)) }
    a = await spawnDaemon(['--ring-secret', secret, '--stabilize-ms', '100'])
    spawned.push(a)
    b = await spawnDaemon(['--ring-secret', secret, '--join', a.address, '--stabilize-ms', '100'])
    spawned.push(b)
    await waitForRing([a, b], 30_000, 3, link)
  }, 60_000)

  afterAll(async () => {
    for (const d of spawned) await killDaemon(d)
    await rm(dir, { recursive: true, force: true })
  })

  it('a node without the secret, or with another, cannot join, and the ring logs whom it refused', async () => {
    for (const args of [[], ['--ring-secret', wrong]]) {
      const joining = spawnDaemon(['--join', a.address, '--stabilize-ms', '100', ...args])
      await expect(joining).rejects.toThrow(/this ring is private: its members prove its secret/)
    }
    expect(a.stderr).toMatch(/refused 127\.0\.0\.1:\d+: asked \S+ without the ring secret/)
    expect(a.stderr).toMatch(/refused 127\.0\.0\.1:\d+: its ring secret is not this ring's/)
  })

  it('a client without the secret is told why; with it, it stores and reads', async () => {
    const key = join(dir, 'owner.key')
    expect((await runCfs(['keygen', key])).code).toBe(0)
    const file = join(dir, 'hello.txt')
    await writeFile(file, 'only for members\n')
    const refused = await runCfs(['put', file, '/hello.txt', '--key', key, '--ring', a.address, '--data', join(dir, 'c1')])
    expect(refused.code).not.toBe(0)
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/this ring is private: its members prove its secret \(--ring-secret\)/)
    const put = await runCfs(['put', file, '/hello.txt', '--key', key, '--ring', a.address, '--ring-secret', secret, '--data', join(dir, 'c2')])
    expect(put.stderr).not.toMatch(/private/) // two nodes hold 2 of k = 3 replicas: a degraded put, not a refused one
    expect(put.code).toBe(0)
    const cat = await runCfs(['cat', '/hello.txt', '--key', key, '--ring', b.address, '--ring-secret', secret, '--data', join(dir, 'c3')])
    expect(cat.stdout).toBe('only for members\n')
    const status = await runCfs(['status', '--node', a.address])
    expect(status.code).not.toBe(0)
    expect((await runCfs(['status', '--node', a.address, '--ring-secret', secret])).code).toBe(0)
  })

  it('a ring secret file too short to be one is refused with a message saying how to make one', async () => {
    const short = join(dir, 'short.secret')
    await writeFile(short, 'pw')
    const r = await runCfs(['status', '--node', a.address, '--ring-secret', short])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/16 to 4096 bytes.*head -c 32 \/dev\/urandom/)
  })

  it('a node keeps its identity across a restart', async () => {
    const before = await readFile(join(b.dataDir, IDENTITY_FILE), 'utf8')
    expect(before).toMatch(/^cfs-ed25519-secret-v1 [0-9a-f]{64}\n$/)
    const port = b.address.split(':')[1] as string
    await killDaemon(b, 'SIGTERM', { keepData: true })
    b = await spawnDaemon(['--ring-secret', secret, '--join', a.address, '--stabilize-ms', '100'], 20_000, { dataDir: b.dataDir, listen: `127.0.0.1:${port}` })
    spawned.push(b)
    expect(await readFile(join(b.dataDir, IDENTITY_FILE), 'utf8')).toBe(before)
    await waitForRing([a, b], 30_000, 3, link)
  })
})
