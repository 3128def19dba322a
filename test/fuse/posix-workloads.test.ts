/**
 * Tools that need a whole POSIX file system, run as root through an owner's mount and compared
 * with their source by `diff -r` and by a listing of type, mode, owner, link count, size,
 * nanosecond mtime, device number, extended attributes and hard-link groups
 * (test/fuse/posix/listing.py).
 */
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { forceUnmount, fuseUnavailable, hasCommand, ok, scratch, since, spawnMount, type MountProcess, type Scratch } from './helpers.js'

const unavailable = await fuseUnavailable() ?? (process.getuid?.() === 0 ? undefined : 'needs root')
const hasGit = await hasCommand('git')
const hasRsync = await hasCommand('rsync')
const repo = fileURLToPath(new URL('../..', import.meta.url))
const LISTING = fileURLToPath(new URL('./posix/listing.py', import.meta.url))
/** A few packages of this repository's node_modules: ~300 files. */
const PACKAGES = ['cborg', 'lru-cache', 'debug', 'commander'].map((p) => `${repo}/node_modules/${p}`)

async function listing (dir: string): Promise<string> {
  return ok(`python3 ${LISTING} ${dir}`)
}

// Skipped only where FUSE cannot run (fuseUnavailable says why) or not as root (chown, mknod
// of devices and several owners need it; CI runs as root).
describe.skipIf(unavailable !== undefined)(`cfs mount: POSIX workloads${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let s: Scratch
  let mnt: string
  let m: MountProcess
  let src: string

  beforeAll(async () => {
    s = await scratch()
    mnt = await s.dir('mnt')
    src = await s.dir('src')
    // A node_modules as pnpm and npm's cache make them: packages, and the same files hard-linked
    // into a second place; a few owners, a setgid directory, a fifo and extended attributes.
    await ok(`
      set -e
      mkdir -p ${src}/node_modules ${src}/.store
      cp -a ${PACKAGES.join(' ')} ${src}/.store/
      cp -al ${src}/.store/cborg ${src}/node_modules/cborg
      cp -al ${src}/.store/debug ${src}/node_modules/debug
      ln ${src}/.store/commander/package.json ${src}/node_modules/commander-package.json
      chown -R 1234:5678 ${src}/.store/lru-cache
      chown 42:43 ${src}/node_modules/debug/package.json
      mkdir ${src}/shared && chmod 2775 ${src}/shared && chgrp 100 ${src}/shared
      mkfifo ${src}/shared/pipe
      chmod 4755 ${src}/.store/commander/package.json
      python3 -c "import os; os.setxattr('${src}/.store/cborg/package.json', 'user.origin', b'npm'); os.setxattr('${src}/shared', 'user.empty', b'')"
      touch -h -d '1969-07-20 20:17:40.123456789' ${src}/node_modules/commander-package.json
      touch -d '2100-01-01 00:00:00.000000001' ${src}/shared
    `)
    m = await spawnMount(s, mnt, ['--key', s.keyFile])
  })

  afterAll(async () => {
    await m?.stop()
    await forceUnmount(mnt)
    await s?.remove()
  })

  it('cp -a of a node_modules with hard links keeps links, owners, modes, xattrs and nanosecond times', async () => {
    const t = performance.now()
    await ok(`cp -a ${src} ${mnt}/cp`, { timeoutMs: 240_000 })
    console.log(`cp -a: ${since(t)} ms`)
    await ok(`diff -r --no-dereference -x pipe ${src} ${mnt}/cp`) // diff cannot compare fifos; the listing does
    const got = await listing(`${mnt}/cp`)
    expect(got).toBe(await listing(src))
    expect(got).toMatch(/ 1234 5678 /) // several owners came across
    expect(got).toMatch(/node_modules\/cborg\/package.json f 0o644 0 0 2 .* \.store\/cborg\/package.json/) // a link group
  })

  it('tar -xpf as root: owners, modes, xattrs and links from the archive', async () => {
    await ok(`tar --xattrs --xattrs-include='user.*' -cpf ${s.root}/tree.tar -C ${src} .`)
    const t = performance.now()
    await ok(`mkdir ${mnt}/tar && tar --xattrs --xattrs-include='user.*' -xpf ${s.root}/tree.tar -C ${mnt}/tar`, { timeoutMs: 240_000 })
    console.log(`tar -xpf: ${since(t)} ms`)
    await ok(`diff -r --no-dereference -x pipe ${src} ${mnt}/tar`)
    expect(await listing(`${mnt}/tar`)).toBe(await listing(src))
  })

  // Skipped only without rsync; scripts/install-deps.sh installs it, so CI runs it.
  it.skipIf(!hasRsync)('rsync -aHAX twice: the same tree, and the second run changes nothing', async () => {
    const t = performance.now()
    await ok(`rsync -aHAX ${src}/ ${mnt}/rsync/`, { timeoutMs: 240_000 })
    console.log(`rsync -aHAX: ${since(t)} ms`)
    expect(await listing(`${mnt}/rsync`)).toBe(await listing(src))
    const again = await ok(`rsync -aHAX --itemize-changes ${src}/ ${mnt}/rsync/`, { timeoutMs: 240_000 })
    expect(again).toBe('')
  })

  // Skipped only without git; the CI machine has it.
  it.skipIf(!hasGit)('git clone --local inside the mount hard-links the objects; git fsck passes', async () => {
    await ok(`
      set -e
      mkdir ${mnt}/origin && cd ${mnt}/origin
      git init -q -b main .
      git config user.email t@example.com && git config user.name t
      cp -r ${src}/.store/cborg . && git add -A && git commit -qm one
      cp -r ${src}/.store/debug . && git add -A && git commit -qm two
    `, { timeoutMs: 240_000 })
    await ok(`git clone -q --local ${mnt}/origin ${mnt}/clone`, { timeoutMs: 240_000 })
    // --local links the object files: each has two names now.
    const links = await ok(`find ${mnt}/clone/.git/objects -type f -links 2 | wc -l`)
    expect(Number(links.trim())).toBeGreaterThan(10)
    await ok(`cd ${mnt}/clone && git fsck --full --strict`, { timeoutMs: 120_000 })
    expect(await ok(`cd ${mnt}/clone && git status --porcelain && git log --oneline | wc -l`)).toBe('2\n')
  })

  it('the tree reads the same after a remount, and through a read-only mount by public key', async () => {
    const before = await listing(`${mnt}/cp`)
    await m.stop()
    m = await spawnMount(s, mnt, ['--key', s.keyFile])
    expect(await listing(`${mnt}/cp`)).toBe(before)
    const ro = await s.dir('ro')
    const reader = await spawnMount(s, ro, ['--pubkey', s.publicKey, '--ring', m.nodeAddress as string])
    try {
      expect(await listing(`${ro}/cp`)).toBe(before) // owners, modes, links, times, xattrs
    } finally {
      await reader.stop()
      await forceUnmount(ro)
    }
  })
})
