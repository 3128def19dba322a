import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { forceUnmount, fuseUnavailable, hasCommand, ok, scratch, sh, since, spawnMount, type MountProcess, type Scratch } from './helpers.js'

const unavailable = await fuseUnavailable()
const hasGit = await hasCommand('git')
const hasRsync = await hasCommand('rsync') // scripts/install-deps.sh installs it
const repo = fileURLToPath(new URL('../..', import.meta.url))
/** A few small packages: ~300 files and links, ~5 MB. */
const TREE = ['cborg', 'lru-cache', 'debug', 'commander'].map((p) => `${repo}/node_modules/${p}`)

/** Names, types, modes, sizes (not of directories) and mtimes (seconds) of a tree, one line per entry, sorted. */
function listing (dir: string): string {
  return `cd ${dir} && find . -mindepth 1 \\( -type d -printf '%P d %m - %Ts\\n' \\) -o -printf '%P %y %m %s %Ts\\n' | LC_ALL=C sort`
}

// Skipped only where FUSE cannot run at all (no /dev/fuse, no fusermount3, or dist/ not built):
// fuseUnavailable() says which, and the reason is in the suite's name. CI has all three
// (scripts/install-deps.sh installs fuse), so there it always runs.
describe.skipIf(unavailable !== undefined)(`cfs mount: real workloads${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let s: Scratch
  let mnt: string
  let m: MountProcess
  let src: string

  beforeAll(async () => {
    s = await scratch()
    mnt = await s.dir('mnt')
    src = await s.dir('src')
    await ok(`cp -a ${TREE.join(' ')} ${src}/`)
    m = await spawnMount(s, mnt, ['--key', s.keyFile])
  })

  afterAll(async () => {
    await m?.stop()
    await forceUnmount(mnt)
    await s?.remove()
  })

  it('cp -a of a node_modules subtree: diff -r finds nothing, and modes and mtimes match', async () => {
    const t = performance.now()
    await ok(`cp -a ${src} ${mnt}/cp`, { timeoutMs: 240_000 })
    const files = Number((await ok(`find ${src} | wc -l`)).trim())
    console.log(`cp -a: ${files} entries in ${since(t)} ms`)
    await ok(`diff -r --no-dereference ${src} ${mnt}/cp`)
    expect(await ok(listing(`${mnt}/cp`))).toBe(await ok(listing(src)))
  })

  it('tar -x: the same tree, with its mtimes', async () => {
    await ok(`tar -cf ${s.root}/tree.tar -C ${src} .`)
    const t = performance.now()
    await ok(`mkdir ${mnt}/tar && tar -xf ${s.root}/tree.tar -C ${mnt}/tar`, { timeoutMs: 240_000 })
    console.log(`tar -x: ${since(t)} ms`)
    await ok(`diff -r --no-dereference ${src} ${mnt}/tar`)
    expect(await ok(listing(`${mnt}/tar`))).toBe(await ok(listing(src)))
  })

  // Skipped only on a machine without git (it is what the test drives); the CI machine has it.
  it.skipIf(!hasGit)('git clone from a local repository, then git fsck and a clean status', async () => {
    const origin = await s.dir('origin')
    await ok(`
      set -e
      cd ${origin}
      git init -q -b main .
      git config user.email t@example.com && git config user.name t
      cp -r ${src}/cborg . && git add -A && git commit -qm one
      cp -r ${src}/lru-cache . && git add -A && git commit -qm two
      rm -r cborg/lib && git add -A && git commit -qm three
      git gc -q
    `)
    const t = performance.now()
    await ok(`git clone -q ${origin} ${mnt}/clone`, { timeoutMs: 240_000 })
    console.log(`git clone: ${since(t)} ms`)
    await ok(`cd ${mnt}/clone && git fsck --full --strict`, { timeoutMs: 120_000 })
    expect(await ok(`cd ${mnt}/clone && git status --porcelain && git log --oneline | wc -l`)).toBe('3\n')
    await ok(`diff -r --exclude=.git ${origin} ${mnt}/clone`)
  })

  // Skipped only on a machine without rsync; scripts/install-deps.sh installs it, so CI runs it.
  it.skipIf(!hasRsync)('rsync -a twice: the second run transfers nothing', async () => {
    const t = performance.now()
    await ok(`rsync -a ${src}/ ${mnt}/rsync/`, { timeoutMs: 240_000 })
    console.log(`rsync -a: ${since(t)} ms`)
    const again = await ok(`rsync -a --stats ${src}/ ${mnt}/rsync/`)
    expect(again).toMatch(/Number of regular files transferred: 0\n/)
    expect(again).toMatch(/Total transferred file size: 0 bytes/)
    await ok(`diff -r --no-dereference ${src} ${mnt}/rsync`)
  })

  it('mv, rm -r, ln -s, chmod and truncate on the copied tree', async () => {
    const refused = await sh(`
      set -e
      cd ${mnt}
      mv cp/cborg tar/cborg-moved            # over nothing, across directories
      mv -T cp/lru-cache tar/cborg            # over a directory that is not empty: refused
    `)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/Directory not empty/)
    await ok(`
      set -e
      cd ${mnt}
      test -d tar/cborg-moved && test ! -e cp/cborg
      rm -r tar/cborg && mv -T cp/lru-cache tar/cborg
      ln -s ../tar/cborg-moved/package.json cp/pkg
      test "$(head -c 1 cp/pkg)" = "{"
      chmod -R go-rwx tar/cborg
      test "$(stat -c %a tar/cborg/package.json)" = 600
      truncate -s 10 tar/cborg/package.json
      test "$(stat -c %s tar/cborg/package.json)" = 10
      rm -rf cp rsync
      test ! -e cp && test ! -e rsync
    `)
  })

  it('a 64 MiB file round trip keeps its checksum, also after a remount', async () => {
    await ok(`head -c ${64 * 1024 * 1024} /dev/urandom > ${s.root}/big.bin`)
    const sum = (await ok(`sha256sum < ${s.root}/big.bin`)).split(' ')[0]
    let t = performance.now()
    await ok(`dd if=${s.root}/big.bin of=${mnt}/big.bin bs=1M conv=fsync status=none`, { timeoutMs: 240_000 })
    console.log(`64 MiB write + fsync: ${since(t)} ms`)
    t = performance.now()
    expect((await ok(`sha256sum < ${mnt}/big.bin`)).split(' ')[0]).toBe(sum)
    console.log(`64 MiB read: ${since(t)} ms`)
    expect(await m.stop()).toBe(0)
    m = await spawnMount(s, mnt, ['--key', s.keyFile])
    expect((await ok(`sha256sum < ${mnt}/big.bin`)).split(' ')[0]).toBe(sum)
  })
})
