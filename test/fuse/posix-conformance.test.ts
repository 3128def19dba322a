import { chmod, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { forceUnmount, fuseUnavailable, ok, scratch, sh, since, spawnMount, type MountProcess, type Scratch } from './helpers.js'

// Differential POSIX conformance: test/fuse/posix/diff.py applies one seeded random sequence of
// file-system operations (creates and opens with random flags, writes, truncates, hard links,
// renames, mkdir/rmdir, symlinks, fifos, sockets and device nodes, chmod with the special bits,
// chown, nanosecond utimensat, xattrs) to a tmpfs mounted -o noatime (the reference) and to the
// owner's cfs mount, and compares every result and errno, and after every operation both whole
// trees: type, mode, uid, gid, nlink, size, rdev, times, symlink targets, listings, xattrs, which
// paths share an inode, and file contents. The first difference fails the test with its trace.
//
// The seed is fixed (DEFAULT_SEED) unless CFS_POSIX_SEED sets one (`random` for a new one each
// run); it is in every failure message, and `CFS_POSIX_SEED=<seed> npx vitest run
// test/fuse/posix-conformance.test.ts` replays the run.
// Mounting a tmpfs and running operations as another user (nobody) need root.

const DIFF = fileURLToPath(new URL('./posix/diff.py', import.meta.url))
/**
 * The seed: fixed, so CI is the same run every time, as the other seeded tests are;
 * CFS_POSIX_SEED=<n> (or `random`) explores others.
 */
const DEFAULT_SEED = 20261205
const SEED = process.env.CFS_POSIX_SEED === 'random'
  ? Math.floor(Math.random() * 2 ** 31)
  : process.env.CFS_POSIX_SEED !== undefined && process.env.CFS_POSIX_SEED !== '' ? Number(process.env.CFS_POSIX_SEED) : DEFAULT_SEED
const NOBODY = '65534:65534'

const unavailable = await fuseUnavailable() ?? (process.getuid?.() === 0 ? undefined : 'needs root: mount -t tmpfs, setuid')

interface Run { code: number, lines: Array<Record<string, unknown>>, stdout: string, stderr: string }

/** One diff.py run over fresh (or, with `fresh: false`, existing) subdirectories `name` of both trees. */
async function diff (ref: string, mnt: string, name: string, ops: number, seed: number, user?: string, fresh = true): Promise<Run> {
  const a = join(ref, name)
  const b = join(mnt, name)
  if (fresh) {
    await mkdir(a)
    await mkdir(b)
  }
  const args = ['--seed', String(seed), '--ops', String(ops), '--a', a, '--b', b, ...(user === undefined ? [] : ['--as-user', user])]
  const r = await sh(`python3 ${DIFF} ${args.map((x) => JSON.stringify(x)).join(' ')}`, { timeoutMs: 280_000 })
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  return { ...r, lines }
}

/** Fails unless the run found no difference; the message has the seed, the mismatch and the replay. */
function expectConformant (r: Run, what: string, seed: number): void {
  const summary = r.lines.find((l) => l.summary === true)
  console.log(`posix conformance, ${what}: seed ${seed}: ${JSON.stringify(summary ?? r.stderr.slice(-2000))}`)
  const mismatch = r.lines.find((l) => l.mismatch === true)
  const message = [
    `${what}: seed ${seed} (replay: CFS_POSIX_SEED=${SEED} npx vitest run test/fuse/posix-conformance.test.ts)`,
    mismatch === undefined ? '' : `first mismatch:\n${JSON.stringify(mismatch, null, 2)}`,
    `diff.py exit ${r.code}${r.stderr === '' ? '' : `, stderr:\n${r.stderr.slice(-4000)}`}`,
  ].filter((x) => x !== '').join('\n')
  expect(r.code, message).toBe(0)
  expect(summary?.ok, message).toBe(true)
}

// Skipped only where FUSE cannot run at all (no /dev/fuse, no fusermount, or dist/ not built) or
// when not root (a tmpfs mount and setuid need it): the reason is in the suite's name.
describe.skipIf(unavailable !== undefined)(`cfs mount: POSIX conformance against tmpfs, seed ${SEED}${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let s: Scratch
  let ref: string
  let mnt: string
  let m: MountProcess | undefined
  let tmpfsMounted = false

  beforeAll(async () => {
    s = await scratch()
    await chmod(s.root, 0o711) // nobody must reach both trees
    ref = await s.dir('ref')
    // nosuid,nodev as the FUSE mount has them (and so that no device node can ever be opened).
    await ok(`mount -t tmpfs -o noatime,nosuid,nodev,mode=0777 tmpfs ${ref}`)
    tmpfsMounted = true
    mnt = await s.dir('mnt')
    m = await spawnMount(s, mnt, ['--key', s.keyFile, '--allow-other'])
  })

  afterAll(async () => {
    await m?.stop()
    if (mnt !== undefined) await forceUnmount(mnt)
    if (tmpfsMounted) {
      const r = await sh(`umount ${ref}`)
      if (r.code !== 0) await sh(`umount -l ${ref}`)
    }
    await s?.remove()
  })

  it('2000 operations as root', async () => {
    const t = performance.now()
    const r = await diff(ref, mnt, 'root', 2000, SEED)
    console.log(`as root: ${since(t)} ms`)
    expectConformant(r, 'as root', SEED)
  })

  it('1000 operations as nobody', async () => {
    const t = performance.now()
    const r = await diff(ref, mnt, 'nobody', 1000, SEED, NOBODY)
    console.log(`as nobody: ${since(t)} ms`)
    expectConformant(r, 'as nobody', SEED)
  })

  it('500 operations as root, then 500 as nobody in the tree root left (files of other owners, sticky directories)', async () => {
    const first = await diff(ref, mnt, 'mixed', 500, SEED + 1)
    expectConformant(first, 'mixed, as root', SEED + 1)
    const second = await diff(ref, mnt, 'mixed', 500, SEED + 2, NOBODY, false)
    expectConformant(second, 'mixed, then as nobody', SEED + 2)
  })
})
