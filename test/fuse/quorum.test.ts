import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { queryStatus } from '../../src/node/index.js'
import { killDaemon, spawnDaemon, type Daemon } from '../helpers/daemon.js'
import { waitForRing } from '../helpers/ring-settled.js'
import { waitFor } from '../helpers/poll.js'
import { fsyncDir, fuseUnavailable, ok, spawnMount, writeSynced } from './helpers.js'
import { ringFixture } from './ring-fixture.js'

const unavailable = await fuseUnavailable()

/** Each node holds at most this many MiB: the ring's capacity, as df shows it through the mount, is 3 x 64 / k = 64 MiB. */
const MAX_MIB = 64
const ARGS = ['--stabilize-ms', '200', '--max-storage-mb', String(MAX_MIB)]

/*
 * An honest fsync, and df through a ring: three `cfs node` processes (--max-storage-mb 64 each) (k = 3, so at least 2 holders by default) and the
 * owner's mount through one of them. With the other two killed, a write still succeeds (it is
 * in the mount) but its fsync answers EIO quickly, and so does an fsync of the directory; `ls`
 * and `cat` of what was published still answer. Once the two are back, the next fsync
 * publishes everything that waited, and a reader's mount reads it byte for byte.
 */
// Skipped only where FUSE cannot run at all (no /dev/fuse, no fusermount3, or dist/ not built):
// fuseUnavailable() says which. CI has all three (scripts/install-deps.sh installs fuse3).
describe.skipIf(unavailable !== undefined)(`df through a ring, and fsync below the minimum of holders${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  const ring = ringFixture(ARGS)
  const { nodes, mounts } = ring

  it('df shows the ring\'s capacity and use; fsync answers EIO while only 1 of 3 holders is up, and publishes what waited once 2 are back', async () => {
    const s = ring.scratch
    const { rw, ro } = ring.dirs as { rw: string, ro: string }
    const owner = await spawnMount(s, rw, ['--key', s.keyFile, '--ring', (nodes[0] as Daemon).address, '--data', await s.dir('owner-data')])
    mounts.push(owner)
    await writeSynced(join(rw, 'before.txt'), 'published with 3 holders')
    await writeSynced(join(rw, 'some.bin'), randomBytes(4 * 1024 * 1024))

    // df shows the ring's capacity and use over k, as the nodes report them (within 10%).
    const df = async (): Promise<{ size: number, used: number }> => {
      const [size, used] = (await ok(`df -B1 --output=size,used ${rw} | tail -1`)).trim().split(/\s+/).map(Number)
      return { size: size as number, used: used as number }
    }
    const reported = async (): Promise<number> => {
      const held = await Promise.all(nodes.map(async (n) => (await queryStatus(n.address)).blocks?.store.bytes ?? 0))
      return held.reduce((a, b) => a + b, 0) / 3
    }
    const { value: shown } = await waitFor('df to show what the nodes hold', async () => ({ df: await df(), nodes: await reported() }),
      (v) => Math.abs(v.df.used - v.nodes) <= 0.1 * v.nodes, 15_000, 500)
    console.log(`df through the ring: size ${shown.df.size}, used ${shown.df.used}; the nodes report ${Math.round(shown.nodes)} bytes held once`)
    expect(Math.abs(shown.df.size - MAX_MIB * 1024 * 1024)).toBeLessThanOrEqual(0.1 * MAX_MIB * 1024 * 1024)

    // Two of three down: their data directories and ports are kept, to come back.
    const down = [nodes[1] as Daemon, nodes[2] as Daemon]
    for (const n of down) await killDaemon(n, 'SIGKILL', { keepData: true })
    // Once the survivor knows it is alone, every key's holders are that one node: 1 of 3.
    const survivor = (nodes[0] as Daemon).address
    await waitFor('the survivor alone in its successor list', async () => queryStatus(survivor), (st) =>
      st.vnodes.every((v) => v.successors.every((p) => p.address === survivor)), 30_000, 100)
    const t0 = performance.now()
    const failed = await writeSynced(join(rw, 'waiting.txt'), 'written while the ring was away').then(() => 'ok', (err: NodeJS.ErrnoException) => err.code)
    const took = performance.now() - t0
    console.log(`fsync with 1 of 3 holders up: ${failed} after ${Math.round(took)} ms`)
    expect(failed).toBe('EIO')
    expect(took).toBeLessThan(30_000)
    expect(owner.stderr()).toMatch(/reached 1 of 3 holders; 2 needed \(TOO_FEW_REPLICAS\)/)
    // The change is in the mount, and what was published reads as before.
    expect(await readFile(join(rw, 'waiting.txt'), 'utf8')).toBe('written while the ring was away')
    expect(await readFile(join(rw, 'before.txt'), 'utf8')).toBe('published with 3 holders')
    await expect(fsyncDir(rw)).rejects.toMatchObject({ code: 'EIO' })

    // Back on their old addresses and data: the next fsync publishes everything that waited.
    for (const [i, n] of down.entries()) {
      nodes[i + 1] = await spawnDaemon([...ARGS, '--join', (nodes[0] as Daemon).address], 20_000, { dataDir: n.dataDir, listen: n.address })
    }
    await waitForRing(nodes, 60_000)
    const { ms } = await waitFor('an fsync that succeeds', async () => fsyncDir(rw).then(() => true, () => false), (ok) => ok, 60_000, 250)
    console.log(`fsync succeeded ${ms} ms after the ring was whole again`)

    const reader = await spawnMount(s, ro, ['--pubkey', s.publicKey, '--ring', (nodes[2] as Daemon).address, '--data', await s.dir('reader-data')])
    mounts.push(reader)
    expect(await readFile(join(ro, 'waiting.txt'), 'utf8')).toBe('written while the ring was away')
    expect(await readFile(join(ro, 'before.txt'), 'utf8')).toBe('published with 3 holders')
  })
})
