/**
 * POSIX rules through a real mount, each stated on its own: owners of new files, setuid and
 * setgid clearing, file capabilities dropped by writes, sticky directories, link counts through
 * rename, times beyond 2038 and before 1970, errors by name, and EROFS wherever the tree is
 * read-only. The mount is the owner's, with --allow-other, so the kernel checks permissions
 * (default_permissions) for every local user; `as(user, ...)` runs a command as uid and gid
 * 65534 (nobody).
 */
import { chmod } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { forceUnmount, fuseUnavailable, ok, scratch, sh, spawnMount, writeSynced, type MountProcess, type Scratch } from './helpers.js'

const unavailable = await fuseUnavailable() ?? (process.getuid?.() === 0 ? undefined : 'needs root')
const NOBODY = 65534

function asNobody (command: string): string {
  return `setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups bash -c ${JSON.stringify(command)}`
}

/** stat's %a %u %g %h of a path. */
async function attrs (path: string): Promise<string> {
  return (await ok(`stat -c '%a %u %g %h' ${path}`)).trim()
}

// Skipped only where FUSE cannot run (fuseUnavailable says why) or not as root (other users and
// chown need it; CI runs as root).
describe.skipIf(unavailable !== undefined)(`cfs mount: POSIX rules${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let s: Scratch
  let mnt: string
  let m: MountProcess

  beforeAll(async () => {
    s = await scratch()
    await chmod(s.root, 0o755) // nobody walks to the mount point
    mnt = await s.dir('mnt')
    m = await spawnMount(s, mnt, ['--key', s.keyFile, '--allow-other'])
    await ok(`chmod 1777 ${mnt}`)
  })

  afterAll(async () => {
    await m?.stop()
    await forceUnmount(mnt)
    await s?.remove()
  })

  it('new files belong to their creator; chown is root\'s, chgrp the owner\'s into own groups', async () => {
    await ok(asNobody(`touch ${mnt}/by-nobody && mkdir ${mnt}/dir-by-nobody`))
    expect(await attrs(`${mnt}/by-nobody`)).toBe(`644 ${NOBODY} ${NOBODY} 1`)
    expect(await attrs(`${mnt}/dir-by-nobody`)).toBe(`755 ${NOBODY} ${NOBODY} 2`)
    const r = await sh(asNobody(`chown 0 ${mnt}/by-nobody`))
    expect(r.stderr).toMatch(/Operation not permitted/)
    await ok(`chown 1000:1000 ${mnt}/by-nobody`)
    expect(await attrs(`${mnt}/by-nobody`)).toBe('644 1000 1000 1')
    expect((await sh(asNobody(`echo x > ${mnt}/by-nobody`))).stderr).toMatch(/Permission denied/)
  })

  it('setuid and setgid are cleared by a write of another user and by chown', async () => {
    await ok(`echo a > ${mnt}/suid && chmod 6777 ${mnt}/suid`)
    await ok(asNobody(`echo b >> ${mnt}/suid`))
    expect((await attrs(`${mnt}/suid`)).split(' ')[0]).toBe('777')
    await ok(`chmod 4755 ${mnt}/suid && chown 5 ${mnt}/suid`)
    expect((await attrs(`${mnt}/suid`)).split(' ')[0]).toBe('755')
  })

  it('file capabilities are dropped by a write, also after a rename or a link puts a capable file under a known name', async () => {
    const caps = async (p: string): Promise<string> => (await ok(`getcap ${p}`)).trim()
    await ok(`cp /bin/true ${mnt}/cap && setcap cap_net_raw+ep ${mnt}/cap`)
    expect(await caps(`${mnt}/cap`)).toMatch(/cap_net_raw[=+]ep/)
    await ok(`printf x >> ${mnt}/cap`)
    expect(await caps(`${mnt}/cap`)).toBe('')
    // Written twice, so the mount knows the name has no capability; then a capable file takes the name.
    await ok(`printf a > ${mnt}/plain && printf b >> ${mnt}/plain`)
    await ok(`cp /bin/true ${mnt}/capable && setcap cap_net_raw+ep ${mnt}/capable && mv ${mnt}/capable ${mnt}/plain`)
    expect(await caps(`${mnt}/plain`)).toMatch(/cap_net_raw[=+]ep/)
    await ok(`printf c >> ${mnt}/plain`)
    expect(await caps(`${mnt}/plain`)).toBe('')
    await ok(`printf a > ${mnt}/other && printf b >> ${mnt}/other && cp /bin/true ${mnt}/capable2 && setcap cap_net_raw+ep ${mnt}/capable2`)
    await ok(`rm ${mnt}/other && ln ${mnt}/capable2 ${mnt}/other && printf c >> ${mnt}/other`)
    expect(await caps(`${mnt}/capable2`)).toBe('')
  })

  it('a setgid directory passes on its group, and its setgid bit to subdirectories', async () => {
    await ok(`mkdir ${mnt}/team && chgrp 100 ${mnt}/team && chmod 2777 ${mnt}/team`)
    await ok(asNobody(`touch ${mnt}/team/f && mkdir ${mnt}/team/d`))
    expect(await attrs(`${mnt}/team/f`)).toBe(`644 ${NOBODY} 100 1`)
    expect(await attrs(`${mnt}/team/d`)).toBe(`2755 ${NOBODY} 100 2`)
  })

  it('in a sticky directory only the owner removes or renames an entry', async () => {
    await ok(`mkdir ${mnt}/sticky && chmod 1777 ${mnt}/sticky && touch ${mnt}/sticky/roots`)
    expect((await sh(asNobody(`rm -f ${mnt}/sticky/roots`))).stderr).toMatch(/Operation not permitted/)
    expect((await sh(asNobody(`mv ${mnt}/sticky/roots ${mnt}/sticky/mine`))).stderr).toMatch(/Operation not permitted/)
    await ok(asNobody(`touch ${mnt}/sticky/mine && rm ${mnt}/sticky/mine`))
    await ok(`test -e ${mnt}/sticky/roots`)
  })

  it('link counts follow link, rename over a link, and unlink; the inode number is shared', async () => {
    await ok(`cd ${mnt} && echo data > l1 && ln l1 l2 && mkdir ld && ln l1 ld/l3`)
    expect(await attrs(`${mnt}/l2`)).toBe('644 0 0 3')
    const inos = (await ok(`stat -c %i ${mnt}/l1 ${mnt}/l2 ${mnt}/ld/l3`)).trim().split('\n')
    expect(new Set(inos).size).toBe(1)
    await ok(`cd ${mnt} && echo other > o && mv o l2`)
    expect(await attrs(`${mnt}/l1`)).toBe('644 0 0 2')
    await ok(`cd ${mnt} && python3 -c "import os; os.rename('ld/l3', 'l1')"`) // onto another name of the same inode: POSIX does nothing (mv would refuse)
    expect(await attrs(`${mnt}/l1`)).toBe('644 0 0 2')
    await ok(`rm ${mnt}/ld/l3`)
    expect(await attrs(`${mnt}/l1`)).toBe('644 0 0 1')
    expect((await sh(`ln ${mnt}/ld ${mnt}/ld2`)).stderr).toMatch(/hard link not allowed for directory/)
    expect(await attrs(`${mnt}/ld`)).toBe('755 0 0 2')
  })

  it('times to the nanosecond, after 2038 and before 1970; UTIME_OMIT keeps the other time', async () => {
    await ok(`touch -d '2100-02-03 04:05:06.123456789' ${mnt}/t && touch -a -d '1960-01-01 00:00:00.5' ${mnt}/t`)
    expect((await ok(`stat -c '%x|%y' ${mnt}/t`)).trim()).toBe('1960-01-01 00:00:00.500000000 +0000|2100-02-03 04:05:06.123456789 +0000')
  })

  it('special files: a fifo passes data through the kernel; device nodes keep their numbers', async () => {
    await ok(`mkfifo ${mnt}/fifo && mknod ${mnt}/null c 1 3 && mknod ${mnt}/disk b 8 1 && python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('${mnt}/sock')"`)
    expect((await ok(`stat -c '%F %t %T' ${mnt}/fifo ${mnt}/null ${mnt}/disk ${mnt}/sock`)).trim().split('\n'))
      .toEqual(['fifo 0 0', 'character special file 1 3', 'block special file 8 1', 'socket 0 0'])
    expect((await ok(`(echo through > ${mnt}/fifo &) ; cat ${mnt}/fifo`)).trim()).toBe('through')
  })

  it('extended attributes with their errors', async () => {
    await ok(`touch ${mnt}/x && setfattr -n user.a -v hello ${mnt}/x`)
    expect((await ok(`getfattr --only-values -n user.a ${mnt}/x`))).toBe('hello')
    expect((await sh(`getfattr -n user.missing ${mnt}/x`)).stderr).toMatch(/No such attribute/)
    expect((await sh(`python3 -c "import os; os.setxattr('${mnt}/x', 'user.a', b'1', os.XATTR_CREATE)"`)).stderr).toMatch(/File exists/)
    expect((await sh(`python3 -c "import os; os.setxattr('${mnt}/x', 'user.b', b'1', os.XATTR_REPLACE)"`)).stderr).toMatch(/No data available/)
    expect((await sh(`python3 -c "import os; os.setxattr('${mnt}/x', 'user.big', b'1' * 65537)"`)).stderr).toMatch(/Argument list too long/)
    expect((await sh(`python3 -c "import os; print(os.getxattr('${mnt}/x', 'user.a', follow_symlinks=True)); import ctypes"`)).code).toBe(0)
  })

  it('errors by name: ENAMETOOLONG, ELOOP, ENOTEMPTY, EINVAL for a directory moved into itself', async () => {
    const long = 'n'.repeat(256)
    expect((await sh(`touch ${mnt}/${long}`)).stderr).toMatch(/File name too long/)
    await ok(`ln -s loop ${mnt}/loop`)
    expect((await sh(`cat ${mnt}/loop`)).stderr).toMatch(/Too many levels of symbolic links/)
    await ok(`mkdir -p ${mnt}/full/sub`)
    expect((await sh(`rmdir ${mnt}/full`)).stderr).toMatch(/Directory not empty/)
    // Through rename(2) itself: mv refuses this before asking.
    expect((await sh(`python3 -c "import os; os.rename('${mnt}/full', '${mnt}/full/sub/inside')"`)).stderr).toMatch(/Invalid argument/)
  })

  it('EROFS for every change under the snapshots directory', async () => {
    await writeSynced(`${mnt}/x`, 'kept') // a published version to look at
    const v = (await ok(`ls ${mnt}/.snapshots | grep -E '^[0-9]+$' | sort -n | tail -1`)).trim()
    const past = `${mnt}/.snapshots/${v}`
    for (const cmd of [
      `touch ${past}/new`, `mkdir ${past}/d`, `rm ${past}/x`, `chmod 600 ${past}/x`, `chown 1 ${past}/x`,
      `touch -d 2000-01-01 ${past}/x`, `ln ${past}/x ${past}/y`, `ln -s a ${past}/s`, `mkfifo ${past}/p`,
      `setfattr -n user.z -v 1 ${past}/x`, `mv ${past}/x ${past}/z`, `truncate -s 0 ${past}/x`,
    ]) {
      const r = await sh(cmd)
      expect(r.stderr, cmd).toMatch(/Read-only file system/)
    }
    expect(await attrs(`${past}/x`)).toBe(await attrs(`${mnt}/x`)) // same owner, mode and links as the tree
  })
})
