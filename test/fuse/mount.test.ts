import { mkdir, open, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_READ_AHEAD_KB, mountDevice } from '../../src/fuse/mount.js'
import { observations, scrape, value } from '../helpers/prometheus.js'
import { CFS_BIN, forceUnmount, fsyncDir, fuseUnavailable, mountHttpAddress, ok, scratch, sh, spawnMount, writeSynced, type MountProcess, type Scratch } from './helpers.js'

const unavailable = await fuseUnavailable()

// Skipped only where FUSE cannot run at all (no /dev/fuse, no fusermount3, or dist/ not built):
// fuseUnavailable() says which, and the reason is in the suite's name. CI has all three
// (scripts/install-deps.sh installs fuse), so there it always runs.
describe.skipIf(unavailable !== undefined)(`cfs mount: file operations through the kernel${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let s: Scratch
  let mnt: string
  let rw: MountProcess

  beforeAll(async () => {
    s = await scratch()
    mnt = await s.dir('mnt')
    rw = await spawnMount(s, mnt, ['--key', s.keyFile, '--publish-ms', '200', '--http', '127.0.0.1:0'])
  })

  afterAll(async () => {
    await rw?.stop()
    await forceUnmount(mnt)
    await s?.remove()
  })

  it('says which blocks it uses and what it mounted', () => {
    expect(rw.banner.join('\n')).toMatch(new RegExp(`^volume ${s.publicKey} \\(read-write\\) via embedded node at .* \\(listening on 127\\.0\\.0\\.1:\\d+\\)$`))
    expect(rw.nodeAddress).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it('raises the kernel\'s read-ahead of the mount to one data block', async () => {
    const device = mountDevice(await readFile('/proc/self/mountinfo', 'utf8'), mnt)
    expect(device).toMatch(/^\d+:\d+$/)
    // Root (as in CI) may write the mount's backing device in sysfs; anyone else keeps the kernel's 128 KiB.
    const kb = Number((await readFile(`/sys/class/bdi/${device as string}/read_ahead_kb`, 'utf8')).trim())
    expect(kb).toBe(process.getuid?.() === 0 ? DEFAULT_READ_AHEAD_KB : 128)
  })

  it('files, directories, symbolic links, modes, truncate, rename over files and across directories, rm -r', async () => {
    await ok(`
      set -e
      cd ${mnt}
      mkdir -p a/b/c d
      echo hello > a/b/c/f.txt
      printf 'other' > d/g.txt
      mv a/b/c/f.txt d/g.txt            # over an existing file, across directories
      test "$(cat d/g.txt)" = hello
      test ! -e a/b/c/f.txt
      mv d a/b/c/d                        # a directory into another
      ln -s ../../a/b/c/d/g.txt link
      test "$(readlink link)" = ../../a/b/c/d/g.txt
      ln -s a/b/c/d/g.txt rel
      test "$(cat rel)" = hello
      chmod 600 a/b/c/d/g.txt
      test "$(stat -c %a a/b/c/d/g.txt)" = 600
      chmod 4755 a
      test "$(stat -c %a a)" = 4755
      truncate -s 3 a/b/c/d/g.txt
      test "$(cat a/b/c/d/g.txt)" = hel
      truncate -s 100000 a/b/c/d/g.txt
      test "$(stat -c %s a/b/c/d/g.txt)" = 100000
      test "$(head -c 3 a/b/c/d/g.txt)" = hel
      test "$(tail -c +4 a/b/c/d/g.txt | tr -d '\\0' | wc -c)" = 0
      mkdir empty && rmdir empty
      ! rmdir a 2>/dev/null
      rm -r a
      test ! -e a
      ls -la > /dev/null
    `)
    expect((await readdir(mnt)).sort()).toEqual(['.snapshots', 'link', 'rel'])
  })

  it('kernel_cache on the owner\'s mount: cached pages never outlive a rewrite, truncate or rename through it', async () => {
    await ok(`
      set -e
      cd ${mnt}
      head -c 3000000 /dev/urandom > kc.bin
      cat kc.bin > /dev/null; cat kc.bin > /dev/null        # pages now cached across opens
      printf 'XYZ' | dd of=kc.bin bs=1 seek=2000000 conv=notrunc status=none
      test "$(dd if=kc.bin bs=1 skip=2000000 count=3 status=none)" = XYZ
      printf 'short' > kc.bin
      test "$(cat kc.bin)" = short
      printf 'moved' > kc2.bin && mv kc2.bin kc.bin
      test "$(cat kc.bin)" = moved
      rm kc.bin
    `)
  })

  it('an unlinked open file stays readable and writable through its descriptor', async () => {
    await writeFile(join(mnt, 'open.txt'), 'still here')
    const fh = await open(join(mnt, 'open.txt'), 'r+')
    try {
      await sh(`rm ${join(mnt, 'open.txt')}`)
      expect((await readdir(mnt)).includes('open.txt')).toBe(false)
      const buf = Buffer.alloc(10)
      await fh.read(buf, 0, 10, 0)
      expect(buf.toString()).toBe('still here')
      await fh.write('STILL', 0)
      const again = Buffer.alloc(10)
      await fh.read(again, 0, 10, 0)
      expect(again.toString()).toBe('STILL here')
    } finally {
      await fh.close()
    }
    await expect.poll(async () => (await readdir(mnt)).filter((n) => n.startsWith('.fuse_hidden'))).toEqual([])
  })

  it('says what it does not support: POSIX ACLs and other xattr namespaces EOPNOTSUPP', async () => {
    await writeFile(join(mnt, 'x'), 'x')
    // Without FUSE's POSIX ACL support the kernel refuses ACLs itself; system.* is not stored.
    const acl = await sh(`python3 -c "import os; os.setxattr('${mnt}/x', 'system.posix_acl_access', b'\\x02\\0\\0\\0')"`)
    expect(acl.stderr).toMatch(/Operation not supported|\[Errno 95\]/)
    const other = await sh(`python3 -c "import os; os.setxattr('${mnt}/x', 'system.other', b'1')"`)
    expect(other.stderr).toMatch(/Operation not supported|\[Errno 95\]/)
  })

  it('keeps modification times through cp -a, touch -m and touch -d', async () => {
    const src = await s.dir('times')
    await ok(`
      set -e
      cd ${src}
      echo data > f
      touch -m -d '2010-05-05 05:05:05.5' f
      touch -a -d '2015-01-01 00:00:00' f
      mkdir d && echo x > d/g && touch -d '2012-01-01 12:00:00' d/g d
      cp -a ${src} ${mnt}/times
      touch -m -d '2001-02-03 04:05:06.789' ${mnt}/times/d/g
    `)
    expect((await stat(join(mnt, 'times', 'f'))).mtime.toISOString()).toBe('2010-05-05T05:05:05.500Z')
    expect((await stat(join(mnt, 'times', 'd'))).mtime.toISOString()).toBe('2012-01-01T12:00:00.000Z')
    expect((await stat(join(mnt, 'times', 'd', 'g'))).mtime.toISOString()).toBe('2001-02-03T04:05:06.789Z')
    const before = Date.now() - 1000
    await ok(`touch ${mnt}/times/f`)
    expect((await stat(join(mnt, 'times', 'f'))).mtimeMs).toBeGreaterThan(before)
  })

  it('df shows real numbers', async () => {
    const [size, avail] = (await ok(`df -B1 --output=size,avail ${mnt} | tail -1`)).trim().split(/\s+/).map(Number)
    expect(size).toBeGreaterThan(1024 * 1024)
    expect(avail).toBeGreaterThan(0)
    expect(await ok(`stat -f -c %T ${mnt}`)).toMatch(/fuse/)
  })

  it('--http: GET /metrics counts FUSE operations, errors, bytes and publications, and the embedded node\'s block layer', async () => {
    const http = await mountHttpAddress(rw)
    const before = await scrape(http)
    await ok(`
      set -e
      cd ${mnt}
      ls -la > /dev/null
      head -c 300000 /dev/urandom > m.bin
      cat m.bin > /dev/null
      ! stat no-such-file 2>/dev/null
    `)
    await writeSynced(join(mnt, 'm.txt'), 'published') // fsync: a publication
    const after = await scrape(http)
    const moved = (name: string, labels: Record<string, string> = {}): number => value(after, name, labels) - value(before, name, labels)
    expect(moved('cfs_fuse_operations_total', { op: 'readdir' })).toBeGreaterThan(0)
    expect(moved('cfs_fuse_operations_total', { op: 'write' })).toBeGreaterThan(0)
    expect(moved('cfs_fuse_operations_total', { op: 'fsync' })).toBe(1)
    expect(moved('cfs_fuse_errors_total', { op: 'getattr', errno: 'ENOENT' })).toBeGreaterThan(0)
    expect(moved('cfs_fuse_written_bytes_total')).toBeGreaterThanOrEqual(300000)
    expect(observations(after, 'cfs_fuse_operation_duration_seconds', { op: 'write' })).toBeGreaterThan(0)
    expect(moved('cfs_volume_publications_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1)
    expect(value(after, 'cfs_volume_published_seq')).toBeGreaterThan(value(before, 'cfs_volume_published_seq'))
    // The embedded node's client put the blocks (one node of k = 3: degraded), and holds them.
    expect(moved('cfs_dhash_client_puts_total', { kind: 'content' })).toBeGreaterThan(0)
    expect(moved('cfs_dhash_client_puts_total', { kind: 'root' })).toBeGreaterThan(0)
    expect(value(after, 'cfs_dhash_stored_bytes')).toBeGreaterThan(300000)
    expect(value(after, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    expect((await fetch(`http://${http}/status`)).status).toBe(200)
  })

  it('the binding answers the getattr after a create or setattr, the capability lookup before each write, xattrs of other namespaces and the flush of a reader, without a trip to JavaScript', async () => {
    const http = await mountHttpAddress(rw)
    const dir = join(mnt, 'trips')
    await mkdir(dir)
    const before = await scrape(http)
    const files = 20
    // Each file: a lookup (ENOENT), a create, 8 writes of 1 KiB, a chmod and a touch, one
    // after the other (the kernel still holds the name: no lookup between them).
    await ok(`
      set -e
      cd ${dir}
      for i in $(seq ${files}); do dd if=/dev/urandom of=f$i bs=1k count=8 status=none; chmod 600 f$i; touch -d @1577836800 f$i; done
    `)
    const after = await scrape(http)
    const moved = (op: string): number => value(after, 'cfs_fuse_operations_total', { op }) - value(before, 'cfs_fuse_operations_total', { op })
    expect(moved('create')).toBe(files)
    expect(moved('write')).toBe(8 * files)
    // Here the kernel asks for the attributes twice per file (the lookup, and chmod's stat once
    // the writes made them stale). Without the binding's answers it would also ask after each
    // create, chmod and touch (5 per file), and for security.capability before every write.
    expect(moved('getxattr')).toBe(0)
    expect(moved('getattr')).toBeLessThan(3 * files)
    const listing = (await ok(`stat -c '%a %s %Y' ${dir}/f*`)).trim().split('\n')
    expect(listing).toHaveLength(files)
    for (const line of listing) expect(line).toBe('600 8192 1577836800')
    // A descriptor that only read is closed without a flush (FOPEN_NOFLUSH); release still comes.
    const read = await scrape(http)
    await ok(`cat ${dir}/f* > /dev/null`)
    const readMoved = async (op: string): Promise<number> => value(await scrape(http), 'cfs_fuse_operations_total', { op }) - value(read, 'cfs_fuse_operations_total', { op })
    expect(await readMoved('open')).toBe(files)
    expect(await readMoved('flush')).toBe(0)
    await expect.poll(async () => readMoved('release')).toBe(files)
    // cp -a sets system.posix_acl_access on every copy: refused (EOPNOTSUPP) by the binding.
    const copied = await scrape(http)
    await ok(`cp -a ${dir}/f1 ${dir}/copy && setfattr -n user.kept -v 1 ${dir}/copy && ! setfattr -n system.other -v 1 ${dir}/copy 2>/dev/null`)
    expect(value(await scrape(http), 'cfs_fuse_operations_total', { op: 'setxattr' }) - value(copied, 'cfs_fuse_operations_total', { op: 'setxattr' })).toBe(1)
    expect((await ok(`getfattr -n user.kept --only-values ${dir}/copy`)).trim()).toBe('1')
  })

  it('past versions under .snapshots, read-only', async () => {
    await writeSynced(join(mnt, 'v.txt'), 'first')
    const first = Math.max(...(await readdir(join(mnt, '.snapshots'))).filter((n) => /^\d+$/.test(n)).map(Number))
    await writeSynced(join(mnt, 'v.txt'), 'second')
    const names = await readdir(join(mnt, '.snapshots'))
    const seqs = names.filter((n) => /^\d+$/.test(n)).map(Number)
    expect(Math.max(...seqs)).toBeGreaterThan(first)
    expect(await readFile(join(mnt, '.snapshots', String(first), 'v.txt'), 'utf8')).toBe('first')
    const byTime = names.filter((n) => n.endsWith('Z'))
    expect(byTime.length).toBeGreaterThan(0)
    expect(await sh(`readlink ${mnt}/.snapshots/${byTime[0]}`)).toMatchObject({ code: 0 })
    expect((await sh(`echo x > ${mnt}/.snapshots/${first}/v.txt`)).stderr).toMatch(/Read-only file system/)
    expect((await sh(`rm ${mnt}/.snapshots/${first}/v.txt`)).stderr).toMatch(/Read-only file system/)
  })

  it('a read-only mount by public key, through the first mount\'s node: reads, EROFS on writes, sees new versions', async () => {
    await writeSynced(join(mnt, 'shared.txt'), 'v1')
    const roDir = await s.dir('ro')
    const ro = await spawnMount(s, roDir, ['--pubkey', s.publicKey, '--ring', rw.nodeAddress as string, '--refresh-ms', '300', '--http', '127.0.0.1:0'])
    try {
      expect(ro.banner.join('\n')).toMatch(/read-only, following the latest version\) via ring via 127\.0\.0\.1:\d+/)
      expect(await readFile(join(roDir, 'shared.txt'), 'utf8')).toBe('v1')
      for (const cmd of ['touch new', 'mkdir d', 'rm shared.txt', 'echo x >> shared.txt', 'chmod 600 shared.txt', 'ln -s a b', 'mv shared.txt s2']) {
        expect((await sh(cmd, { cwd: roDir })).stderr, cmd).toMatch(/Read-only file system/)
      }
      // Through a ring: the mount's /metrics has its FUSE side and its ring client (the kernel refuses
      // the writes above itself: mounted ro); no node here, so no /status.
      const http = await mountHttpAddress(ro)
      const m = await scrape(http)
      expect(value(m, 'cfs_fuse_operations_total', { op: 'read' })).toBeGreaterThan(0)
      expect(value(m, 'cfs_fuse_read_bytes_total')).toBeGreaterThan(0)
      expect(value(m, 'cfs_dhash_client_gets_total', { kind: 'root', outcome: 'ok' })).toBeGreaterThan(0)
      expect(value(m, 'cfs_chord_lookups_total', { outcome: 'ok' })).toBeGreaterThan(0)
      expect((await fetch(`http://${http}/status`)).status).toBe(404)
      await writeFile(join(mnt, 'shared.txt'), 'v2')
      await expect.poll(async () => readFile(join(roDir, 'shared.txt'), 'utf8'), { timeout: 10_000 }).toBe('v2')
    } finally {
      expect(await ro.stop()).toBe(0)
    }
    expect(await readdir(roDir)).toEqual([])
  })

  it('a fresh mount reading a directory\'s files in name order fetches the next ones ahead (cfs_fs_read_ahead_files_total)', async () => {
    const dir = join(mnt, 'in-order')
    const files = 40
    await mkdir(dir)
    await ok(`cd ${dir} && for i in $(seq -w 0 ${files - 1}); do echo "file $i" > f$i; done`)
    await fsyncDir(dir) // published: the read-only mount below sees them
    const roDir = await s.dir('ro-in-order')
    const ro = await spawnMount(s, roDir, ['--pubkey', s.publicKey, '--ring', rw.nodeAddress as string, '--http', '127.0.0.1:0'])
    try {
      const http = await mountHttpAddress(ro)
      const before = value(await scrape(http), 'cfs_fs_read_ahead_files_total')
      // cat opens them one by one in the shell's (name) order; each answer is still its own file's.
      const out = await ok(`for f in ${roDir}/in-order/*; do cat "$f"; done`)
      expect(out.trim().split('\n')).toEqual(Array.from({ length: files }, (_, i) => `file ${String(i).padStart(2, '0')}`))
      // Every file after the second was asked for ahead (windows of 16: f02-f17, f18-f33, f34-f39).
      const ahead = value(await scrape(http), 'cfs_fs_read_ahead_files_total') - before
      expect(ahead).toBeGreaterThanOrEqual(files / 2)
      expect(ahead).toBeLessThanOrEqual(files - 2)
      // Out of order (backwards): nothing more.
      const back = value(await scrape(http), 'cfs_fs_read_ahead_files_total')
      await ok(`for f in $(ls -r ${roDir}/in-order); do cat ${roDir}/in-order/$f > /dev/null; done`)
      expect(value(await scrape(http), 'cfs_fs_read_ahead_files_total')).toBe(back)
    } finally {
      expect(await ro.stop()).toBe(0)
    }
  })

  it('two mounts with the same key: the second writer gets an error, and no update is lost', async () => {
    await ok(`printf base | dd of=${join(mnt, 'race.txt')} conv=fsync status=none`)
    const twinDir = await s.dir('twin')
    const twinArgs = ['--key', s.keyFile, '--ring', rw.nodeAddress as string, '--publish-ms', '100000']
    // Not with the same data directory: one owner mount keeps a volume's journal there.
    await expect(spawnMount(s, twinDir, twinArgs)).rejects.toThrow(/process \d+ keeps this volume's journal .* one owner mount per volume and data directory/)
    // A second owner's mount of the same volume (as from another machine), in another process, through the first's node.
    const twin = await spawnMount(s, twinDir, [...twinArgs, '--data', await s.dir('twin-data')])
    try {
      expect(await readFile(join(twinDir, 'race.txt'), 'utf8')).toBe('base')
      await ok(`printf first | dd of=${join(mnt, 'race.txt')} conv=fsync status=none`)
      // The twin still stands on the version before "first": its publish is refused.
      const second = await sh(`printf second | dd of=${join(twinDir, 'race.txt')} conv=fsync status=none`)
      expect(second.code).not.toBe(0)
      expect(second.stderr).toMatch(/Input\/output error/)
      // What is published is the first writer's update, as any reader sees it.
      const reader = await ok(`node ${CFS_BIN} cat --pubkey ${s.publicKey} --ring ${rw.nodeAddress as string} --data ${await s.dir('race-reader')} /race.txt`, { env: s.env })
      expect(reader).toBe('first')
      expect(await readFile(join(mnt, 'race.txt'), 'utf8')).toBe('first')
    } finally {
      await twin.stop()
      await forceUnmount(twinDir)
    }
  })

  it('one fixed version, read-only, with --allow-other (and so default_permissions) and kernel_cache', async () => {
    const seqs = (await readdir(join(mnt, '.snapshots'))).filter((n) => /^\d+$/.test(n)).map(Number)
    const seq = Math.max(...seqs)
    const dir = await s.dir('fixed')
    const fixed = await spawnMount(s, dir, ['--pubkey', s.publicKey, '--ring', rw.nodeAddress as string, '--version', String(seq), '--allow-other'])
    try {
      expect(fixed.banner.join('\n')).toMatch(new RegExp(`read-only, version ${seq}\\)`))
      const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === dir) ?? ''
      expect(line).toMatch(/ ro[, ]/)
      expect(line).toMatch(/fuse\.cfs cfs:[0-9a-f]{16} .*allow_other/)
      expect(line).toMatch(/default_permissions/)
      expect(await readFile(join(dir, 'shared.txt'), 'utf8')).toBe(await readFile(join(mnt, '.snapshots', String(seq), 'shared.txt'), 'utf8'))
      await writeSynced(join(mnt, 'shared.txt'), 'changed after the version') // published, and still not shown here
      expect(await readFile(join(dir, 'shared.txt'), 'utf8')).not.toBe('changed after the version')
      expect((await sh(`touch ${dir}/x`)).stderr).toMatch(/Read-only file system/)
    } finally {
      expect(await fixed.stop()).toBe(0)
    }
  })

  it('cfs unmount publishes and stops the serving process; the next mount sees everything', async () => {
    // Neither is fsync'd: whatever the publish timer has not taken yet, the unmount publishes.
    await writeFile(join(mnt, 'last.txt'), 'last words')
    await ok(`mkdir ${mnt}/unsynced-dir`)
    const out = await ok(`node ${CFS_BIN} unmount ${mnt}`, { env: s.env })
    expect(out.trim()).toBe(`unmounted ${mnt}`)
    expect(rw.process.exitCode ?? await new Promise((resolve) => rw.process.once('exit', resolve))).toBe(0)
    expect(await readdir(mnt)).toEqual([])
    rw = await spawnMount(s, mnt, ['--key', s.keyFile])
    expect(await readFile(join(mnt, 'last.txt'), 'utf8')).toBe('last words')
    expect((await stat(join(mnt, 'unsynced-dir'))).isDirectory()).toBe(true)
    expect((await sh(`node ${CFS_BIN} unmount ${s.root}`, { env: s.env })).stderr).toMatch(/not a cfs mount/)
  })

  it('--daemon detaches once mounted and logs to a file', async () => {
    const dir = await s.dir('daemon')
    const log = join(s.root, 'daemon.log')
    // Its own data directory: the first owner mount keeps the volume's journal in the default one.
    const data = await s.dir('daemon-data')
    const out = await ok(`node ${CFS_BIN} mount ${dir} --key ${s.keyFile} --ring ${rw.nodeAddress as string} --data ${data} --daemon --log-file ${log}`, { env: s.env, timeoutMs: 30_000 })
    expect(out).toMatch(new RegExp(`^mounted ${dir} \\(pid \\d+, log ${log}\\)`))
    try {
      expect(await readFile(join(dir, 'last.txt'), 'utf8')).toBe('last words')
    } finally {
      expect((await ok(`node ${CFS_BIN} unmount ${dir}`, { env: s.env })).trim()).toBe(`unmounted ${dir}`)
    }
    expect(await readFile(log, 'utf8')).toMatch(/mounted .*\n[\s\S]*unmounted/)
  })
})
