import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killDaemon, spawnDaemon, type Daemon } from '../helpers/daemon.js'
import { waitForRing } from '../helpers/ring-settled.js'
import { forceUnmount, fsyncDir, fuseUnavailable, ok, scratch, sh, since, spawnMount, type MountProcess, type Scratch } from './helpers.js'

const unavailable = await fuseUnavailable()
const repo = fileURLToPath(new URL('../..', import.meta.url))
/** A small real tree: ~100 files. */
const TREE = ['lru-cache', 'debug'].map((p) => `${repo}/node_modules/${p}`)

/*
 * The mount on a ring of virtual nodes: four `cfs node --vnodes 4` processes (16 vnodes, k = 3).
 * The owner's mount through one node writes a tree with cp -a and publishes it (fsync of the
 * directory); a reader's mount by public key through another node sees the same bytes; after
 * one process (all four of its vnodes) is killed, the reader still reads everything.
 */
// Skipped only where FUSE cannot run at all (no /dev/fuse, no fusermount3, or dist/ not built):
// fuseUnavailable() says which. CI has all three (scripts/install-deps.sh installs fuse3).
describe.skipIf(unavailable !== undefined)(`cfs mount on --vnodes 4 processes${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  const nodes: Daemon[] = []
  let s: Scratch
  let owner: MountProcess | undefined
  let reader: MountProcess | undefined
  let rw: string
  let ro: string

  beforeAll(async () => {
    s = await scratch()
    rw = await s.dir('rw')
    ro = await s.dir('ro')
    const args = ['--vnodes', '4', '--stabilize-ms', '200', '--repair-ms', '500']
    nodes.push(await spawnDaemon(args))
    nodes.push(...await Promise.all([1, 2, 3].map(async () => spawnDaemon([...args, '--join', (nodes[0] as Daemon).address]))))
    await waitForRing(nodes, 60_000)
  }, 90_000)

  afterAll(async () => {
    await owner?.stop()
    await reader?.stop()
    await forceUnmount(rw)
    await forceUnmount(ro)
    for (const n of nodes) await killDaemon(n)
    await s?.remove()
  })

  it('cp -a through the owner\'s mount, read back by a reader\'s mount, and after a process with all its vnodes is killed', async () => {
    const t0 = performance.now()
    owner = await spawnMount(s, rw, ['--key', s.keyFile, '--ring', (nodes[1] as Daemon).address, '--data', await s.dir('owner-data')])
    await ok(`cp -a ${TREE.join(' ')} ${rw}/`)
    await fsyncDir(rw) // published
    expect((await sh(`diff -r ${repo}/node_modules/lru-cache ${rw}/lru-cache`)).code).toBe(0)
    const copied = since(t0)

    reader = await spawnMount(s, ro, ['--pubkey', s.publicKey, '--ring', (nodes[2] as Daemon).address, '--data', await s.dir('reader-data')])
    for (const p of ['lru-cache', 'debug']) expect((await sh(`diff -r ${repo}/node_modules/${p} ${ro}/${p}`)).code, p).toBe(0)
    await reader.stop()

    await killDaemon(nodes[3] as Daemon, 'SIGKILL') // four vnodes at once; k = 3 puts kept copies on 3 distinct processes
    reader = await spawnMount(s, ro, ['--pubkey', s.publicKey, '--ring', (nodes[2] as Daemon).address, '--data', await s.dir('reader-data-2')])
    for (const p of ['lru-cache', 'debug']) expect((await sh(`diff -r ${repo}/node_modules/${p} ${ro}/${p}`)).code, `${p} after the kill`).toBe(0)
    console.log(`vnodes mount: 4 x 4 vnodes; cp -a + fsyncdir + diff in ${copied} ms; read back through another node, and again after kill -9 of one process, in ${since(t0) - copied} ms`)
  }, 120_000)
})
