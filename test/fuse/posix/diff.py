#!/usr/bin/env python3
"""Differential POSIX conformance driver: the same seeded random operations in two directories.

    python3 diff.py --seed S --ops N --a DIR_A --b DIR_B [--as-user UID:GID]

DIR_A is the reference (a tmpfs mounted -o noatime), DIR_B the file system under test. One
random.Random(seed) builds one sequence of operations over a small namespace (a dozen names,
depth <= 3, so operations collide); each is applied to A, then to B, at the same relative path,
and the results (return value or errno name) must be equal. After every operation both trees are
walked (lstat, readlink, listdir, listxattr and the xattr values, as root) and compared: type,
all 16 mode bits, uid, gid, nlink, size (not of directories), rdev, symlink targets, directory
listings, xattrs, hard-link identity (which paths share an inode: never the inode numbers), the
contents of every regular file the operation may have touched, and times (see compare_times).

The choice of each operation depends on the seed and on the tree as the walk saw it (the same in
A and B, or the run has already stopped): a seed replays the same sequence on the same reference.

The first mismatch is printed as one JSON line (seed, op index, op, both results, the diffs and
the operations before it) and the run stops: it is a trace to debug, nothing after it would mean
anything. A summary JSON line ends every run. Exit status: 0 no mismatch, 1 mismatch, 2 error.

--as-user UID:GID: a forked child (setgroups([]), setgid, setuid) performs the operations; the
parent, still root, walks and compares. The two roots are chmod 0777 first (they stay root's).

What is not compared, by rule: st_ino and st_dev (only which paths share an inode), directory
sizes, st_blocks, and "now" times to the nanosecond (only whether the op changed them, and only
where that is certain: see compare_times). Debugging only, to look past a known gap: --exclude
(op kinds never generated), --ignore (comparisons skipped), --no-xattr, --relax-atime (for a
reference that is not noatime), --trace (every op and both results on stderr).

Safety: paths never contain "..", except as the last component of operations that never touch
the object it names (mkdir, rmdir, unlink, rename, link, symlink, mknod: EEXIST, ENOTEMPTY,
EBUSY, ...), and symlink targets are relative and only descend, so nothing resolves outside the
two roots. Device nodes are created but never opened (an open that would reach one is skipped,
in both trees); fifos are opened O_NONBLOCK.
"""

import argparse
import ctypes
import errno
import hashlib
import json
import os
import pickle
import random
import re
import stat
import struct
import sys
import time

# ---------------------------------------------------------------------------------------------
# System calls Python's os module lacks: utimensat with UTIME_NOW/UTIME_OMIT, renameat2, access

libc = ctypes.CDLL(None, use_errno=True)


class Timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2

libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(Timespec), ctypes.c_int]
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
libc.access.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _check(rc):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return rc


def utimensat(path, times, follow):
    """times: None (both now) or [atime, mtime], each 'now', 'omit' or [sec, nsec]."""
    arr = None
    if times is not None:
        arr = (Timespec * 2)()
        for i, t in enumerate(times):
            if t == 'now':
                arr[i].tv_sec, arr[i].tv_nsec = 0, UTIME_NOW
            elif t == 'omit':
                arr[i].tv_sec, arr[i].tv_nsec = 0, UTIME_OMIT
            else:
                arr[i].tv_sec, arr[i].tv_nsec = t[0], t[1]
    _check(libc.utimensat(AT_FDCWD, os.fsencode(path), arr, 0 if follow else AT_SYMLINK_NOFOLLOW))


def renameat2(src, dst, flags):
    _check(libc.renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), flags))


def access(path, mode):
    _check(libc.access(os.fsencode(path), mode))


# ---------------------------------------------------------------------------------------------
# The namespace

LONG = 'L' * 255           # the longest legal name
TOOLONG = 'T' * 256        # ENAMETOOLONG
POOL = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '.h', 'ü', 'x y', LONG]

TREE_SIZE = 32             # beyond this many entries, unlinks and rmdirs of leaves become likelier
FILE_SIZE = 256 << 10      # beyond this size, truncates of the file become likelier
UIDS = [0, 65534, 1000, 4242, -1]
GIDS = [0, 65534, 100, 4242, -1]
RDEVS = [(1, 3), (1, 5), (8, 1), (259, 123456), (4095, 0xfffff), (0, 0), (240, 7), (7, 0)]
XATTR_NAMES = ['user.a', 'user.b', 'user.c', 'user.' + 'n' * 200, 'user.' + 'm' * 251,  # the last: 256 bytes, ERANGE
               'trusted.t', 'foo.bar', 'user.']
XATTR_CREATE, XATTR_REPLACE = os.XATTR_CREATE, os.XATTR_REPLACE

# Times in [NOW_LO, NOW_HI) seconds are "now" (set by the file system from its clock); explicit
# times are never drawn from that window, so any time outside it was set explicitly.
NOW_LO = 1_600_000_000     # 2020-09
NOW_HI = 2_100_000_000     # 2036-07
CLOCK_REALTIME_COARSE = 5  # the clock of current_time() (tmpfs timestamps are this coarse: a tick, 4 ms at HZ=250)

FLAG = {name: getattr(os, name) for name in
        ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_CREAT', 'O_EXCL', 'O_TRUNC', 'O_APPEND', 'O_DIRECTORY', 'O_NOFOLLOW']}
TYPE = {stat.S_IFREG: 'f', stat.S_IFDIR: 'd', stat.S_IFLNK: 'l', stat.S_IFIFO: 'p', stat.S_IFSOCK: 's',
        stat.S_IFCHR: 'c', stat.S_IFBLK: 'b'}


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else type(e).__name__


def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]


def join(d, name):
    return name if d == '.' else d + '/' + name


def dirname(p):
    return p.rsplit('/', 1)[0] if '/' in p else '.'


def basename(p):
    return p.rsplit('/', 1)[1] if '/' in p else p


# ---------------------------------------------------------------------------------------------
# The generator: one op at a time, from the seed and the (common) tree


class Gen:
    def __init__(self, rng, as_user, uid, gid, exclude):
        self.rng = rng
        self.as_user = as_user
        self.uid, self.gid = uid, gid
        w = {
            'open': 14, 'write': 7, 'truncate': 4, 'read': 4, 'link': 5, 'unlink': 6, 'rename': 7,
            'rename2': 3, 'mkdir': 8, 'rmdir': 4, 'symlink': 6, 'readlink': 2, 'mknod': 3,
            'mkfifo': 2, 'chmod': 5, 'chown': 4, 'utimens': 6, 'setxattr': 6, 'getxattr': 3,
            'listxattr': 2, 'removexattr': 3, 'stat': 2, 'access': 2, 'listdir': 2,
        }
        for k in exclude:
            w.pop(k, None)
        self.kinds = sorted(w)
        self.weights = [w[k] for k in self.kinds]
        self.snap = {}
        self.stats = {}

    # paths -----------------------------------------------------------------------------------

    def existing(self, types=None):
        c = [p for p, t in self.snap.items() if types is None or t in types]
        return self.rng.choice(c) if c else self.fresh()

    def fresh(self):
        d = self.rng.choice([p for p, t in self.snap.items() if t == 'd'] or ['.'])
        return join(d, self.rng.choice(POOL))

    def random_path(self):
        r = self.rng
        return '/'.join(r.choice(POOL) for _ in range(r.choice([1, 1, 2, 2, 3])))

    def path(self, types=None, last_dots=False, fresh_bias=0.32):
        r = self.rng
        x = r.random()
        if x < 0.5:
            p = self.existing(types)
        elif x < 0.5 + fresh_bias:
            p = self.fresh()
        else:
            p = self.random_path()
        x = r.random()
        if x < 0.02:
            p = p + '/'                                   # trailing slash: ENOTDIR on files
        elif x < 0.03:
            p = join(dirname(p), TOOLONG)                 # ENAMETOOLONG
        elif x < 0.045:
            p = p + '/' + r.choice(POOL)                  # through whatever p is: ENOTDIR, ENOENT
        elif last_dots and x < 0.06:
            p = p + r.choice(['/.', '/..'])               # never touches the object it names
        return p

    def target(self, link):
        """A symlink target: relative, and only descending (never '..', never absolute)."""
        r = self.rng
        d = dirname(link)
        x = r.random()
        if x < 0.3:
            return r.choice(POOL)
        if x < 0.5:
            below = [p[len(d) + 1:] if d != '.' else p for p in self.snap if d == '.' or p.startswith(d + '/')]
            below = [p for p in below if p != '.']
            return r.choice(below) if below else r.choice(POOL)
        if x < 0.6:
            return r.choice(POOL) + '/' + r.choice(POOL)
        if x < 0.7:
            return basename(link)                         # a loop: ELOOP through it
        if x < 0.78:
            return '.'
        if x < 0.86:
            return r.choice(POOL) + '/'
        if x < 0.9:
            return ''                                     # ENOENT
        if x < 0.93:
            return 'z' * 4096                             # ENAMETOOLONG
        return '/'.join(r.choice(POOL[:8]) for _ in range(r.randint(2, 60)))

    # values ----------------------------------------------------------------------------------

    def data(self):
        r = self.rng
        x = r.random()
        n = 0 if x < 0.05 else r.randint(1, 100) if x < 0.45 else r.randint(100, 5000) if x < 0.92 else r.randint(5000, 70000)
        return r.randbytes(n)

    def offset(self):
        r = self.rng
        x = r.random()
        return 0 if x < 0.3 else r.randint(0, 5000) if x < 0.93 else r.randint(5000, 140000)

    def perm(self, special=0.3):
        r = self.rng
        base = r.choice([0o644, 0o644, 0o755, 0o755, 0o600, 0o700, 0o777, 0o666, 0o444, 0o000, 0o311, r.randint(0, 0o777)])
        if r.random() < special:
            base |= r.choice([0o4000, 0o2000, 0o1000, 0o6000, 0o7000, 0o2000 | 0o010, 0o4000 | 0o100])
        return base

    def dir_perm(self):
        r = self.rng
        base = r.choice([0o755, 0o755, 0o700, 0o777, 0o750, 0o711, 0o555, 0o300, 0o000, r.randint(0, 0o777)])
        if r.random() < 0.3:
            base |= r.choice([0o1000, 0o2000, 0o3000, 0o4000])
        return base

    def umask(self):
        return self.rng.choice([0o022, 0o022, 0o022, 0, 0o077, 0o027, 0o002, 0o777])

    def when(self):
        r = self.rng
        x = r.random()
        if x < 0.2:
            return 'now'
        if x < 0.35:
            return 'omit'
        if x < 0.55:
            s = r.randint(-2**31, -1)                     # 1901 .. 1969
        elif x < 0.8:
            s = r.randint(0, NOW_LO - 1)                  # 1970 .. 2020
        elif x < 0.95:
            s = r.randint(NOW_HI, 2**34)                  # 2036 .. 2514 (2038: 2**31)
        else:
            s = r.choice([0, -1, 2**31 - 1, 2**31, 2**32, -2**31, 2**40, -2**40, 10**11])
        ns = r.choice([0, 999_999_999, r.randint(0, 999_999_999), r.randint(0, 999) * 1_000_000])
        return [s, ns]

    # ops -------------------------------------------------------------------------------------

    def steps(self, writable):
        r = self.rng
        st = []
        if writable or r.random() < 0.1:
            x = r.random()
            if x < 0.6:
                st.append(['pwrite', self.offset(), self.data()])
            elif x < 0.8:
                st.append(['write', self.data()])
            elif x < 0.9:
                st.append(['ftruncate', self.offset()])
        if r.random() < 0.2:
            st.append(['read'])
        if r.random() < 0.3:
            st.append(['fstat'])
        return st

    def prune(self):
        """An unlink of a non-directory or an rmdir of an empty directory (the tree stays small)."""
        r = self.rng
        parents = {dirname(p) for p in self.snap}
        leaves = [p for p, t in self.snap.items() if p != '.' and (t != 'd' or p not in parents)]
        if not leaves:
            return None
        p = r.choice(leaves)
        return {'k': 'rmdir' if self.snap[p] == 'd' else 'unlink', 'path': p}

    def next(self, stats):
        """stats: path -> (st_mode, st_size, st_uid), of the tree as both walks saw it."""
        self.stats = stats
        self.snap = snap = {p: TYPE.get(stat.S_IFMT(m), '?') for p, (m, _, _) in stats.items()}
        r = self.rng
        if len(snap) > TREE_SIZE and r.random() < (len(snap) - TREE_SIZE) / 10:
            op = self.prune()
            if op is not None:
                return op
        big = [p for p, (m, size, _) in stats.items() if stat.S_ISREG(m) and size > FILE_SIZE]
        if big and r.random() < 0.3:   # appends would grow files without end
            return {'k': 'truncate', 'path': r.choice(big), 'size': self.offset()}
        k = r.choices(self.kinds, self.weights)[0]
        if k == 'open':
            acc = r.choice(['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_RDWR', 'O_WRONLY'])
            flags = [acc]
            for f, pr in [('O_CREAT', 0.6), ('O_EXCL', 0.2), ('O_TRUNC', 0.2), ('O_APPEND', 0.2),
                          ('O_DIRECTORY', 0.07), ('O_NOFOLLOW', 0.12)]:
                if r.random() < pr:
                    flags.append(f)
            return {'k': k, 'path': self.path(), 'flags': flags, 'mode': self.perm(0.15), 'umask': self.umask(),
                    'steps': self.steps(acc != 'O_RDONLY')}
        if k == 'write':
            flags = [r.choice(['O_WRONLY', 'O_RDWR'])] + (['O_APPEND'] if r.random() < 0.2 else [])
            st = [['pwrite', self.offset(), self.data()] if r.random() < 0.7 else ['write', self.data()]]
            if r.random() < 0.3:
                st.append(['fstat'])
            return {'k': k, 'path': self.path('f'), 'flags': flags, 'mode': 0, 'umask': 0o022, 'steps': st}
        if k == 'read':
            return {'k': k, 'path': self.path('fl'), 'flags': ['O_RDONLY'], 'mode': 0, 'umask': 0o022, 'steps': [['read']]}
        if k == 'truncate':
            n = -1 if r.random() < 0.03 else self.offset()
            return {'k': k, 'path': self.path('f'), 'size': n}
        if k == 'link':
            return {'k': k, 'src': self.path('fpslcb'), 'dst': self.path(last_dots=True, fresh_bias=0.45),
                    'follow': r.random() < 0.4}
        if k == 'unlink':
            return {'k': k, 'path': self.path('fpslcb', last_dots=True, fresh_bias=0.1)}
        if k == 'rmdir':
            return {'k': k, 'path': self.path('d', last_dots=True, fresh_bias=0.1)}
        if k in ('rename', 'rename2'):
            src = self.path(last_dots=True, fresh_bias=0.1)
            x = r.random()
            if x < 0.1:
                dst = src.rstrip('/') + '/' + r.choice(POOL)          # into itself: EINVAL
            elif x < 0.15 and '/' in src:
                dst = dirname(src)                                     # over its own parent
            else:
                dst = self.path(last_dots=True, fresh_bias=0.4)
            op = {'k': k, 'src': src, 'dst': dst}
            if k == 'rename2':
                op['flags'] = r.choice([RENAME_NOREPLACE, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_EXCHANGE,
                                        RENAME_NOREPLACE | RENAME_EXCHANGE, 0])
            return op
        if k == 'mkdir':
            return {'k': k, 'path': self.path(last_dots=True, fresh_bias=0.45), 'mode': self.dir_perm(), 'umask': self.umask()}
        if k == 'symlink':
            p = self.path(last_dots=True, fresh_bias=0.45)
            return {'k': k, 'path': p, 'target': self.target(p)}
        if k == 'readlink':
            return {'k': k, 'path': self.path('l')}
        if k == 'mknod':
            fmt = r.choice(['S_IFIFO', 'S_IFSOCK', 'S_IFCHR', 'S_IFBLK', 'S_IFCHR', 'S_IFBLK', 'S_IFREG', '0', 'S_IFDIR'])
            return {'k': k, 'path': self.path(last_dots=True, fresh_bias=0.45), 'fmt': fmt, 'mode': self.perm(0.2),
                    'rdev': r.choice(RDEVS), 'umask': self.umask()}
        if k == 'mkfifo':
            return {'k': k, 'path': self.path(fresh_bias=0.45), 'mode': self.perm(0.2), 'umask': self.umask()}
        if k == 'chmod':
            locked = sorted((p.count('/'), p) for p, (m, _, uid) in self.stats.items()
                            if stat.S_ISDIR(m) and m & 0o700 != 0o700 and (not self.as_user or uid == self.uid))
            if locked and r.random() < 0.4:   # as a user, a locked directory would only give EACCES below it
                return {'k': k, 'path': locked[0][1], 'mode': r.choice([0o755, 0o700, 0o777, 0o1777, 0o2755])}
            mode = r.randint(0, 0o7777) if r.random() < 0.3 else self.perm(0.5)
            return {'k': k, 'path': self.path(), 'mode': mode}
        if k == 'chown':
            if self.as_user:
                uids = [self.uid, self.uid, -1, 0, 4242]
                gids = [self.gid, self.gid, -1, 0, 4242]
            else:
                uids, gids = UIDS, GIDS
            return {'k': k, 'path': self.path(), 'uid': r.choice(uids), 'gid': r.choice(gids), 'follow': r.random() < 0.7}
        if k == 'utimens':
            x = r.random()
            times = None if x < 0.15 else [self.when(), self.when()]
            if x > 0.97:
                times = [[r.randint(0, 10**9), r.choice([10**9, -1])], self.when()]   # EINVAL
            return {'k': k, 'path': self.path(), 'times': times, 'follow': r.random() < 0.75}
        if k in ('setxattr', 'getxattr', 'removexattr'):
            names = XATTR_NAMES if r.random() < 0.15 else XATTR_NAMES[:4]
            op = {'k': k, 'path': self.path(), 'name': r.choice(names), 'follow': r.random() < 0.8}
            if k == 'setxattr':
                x = r.random()
                n = 0 if x < 0.1 else r.randint(1, 64) if x < 0.8 else r.randint(64, 3000) if x < 0.99 else 65537
                op['value'] = r.randbytes(n)
                op['flags'] = r.choice([0, 0, XATTR_CREATE, XATTR_REPLACE])
            return op
        if k == 'listxattr':
            return {'k': k, 'path': self.path(), 'follow': r.random() < 0.8}
        if k == 'stat':
            return {'k': k, 'path': self.path()}
        if k == 'access':
            return {'k': k, 'path': self.path(), 'mode': r.choice([os.F_OK, os.R_OK, os.W_OK, os.X_OK, os.R_OK | os.W_OK, 7])}
        if k == 'listdir':
            return {'k': k, 'path': self.path('dl')}
        raise AssertionError(k)


# ---------------------------------------------------------------------------------------------
# The executor: one op in one tree; runs as root or, with --as-user, in the unprivileged child


def norm_stat(st):
    t = TYPE.get(stat.S_IFMT(st.st_mode), '?')
    return {'type': t, 'mode': oct(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid, 'nlink': st.st_nlink,
            'size': None if t == 'd' else st.st_size, 'rdev': st.st_rdev}


def read_fd(fd, limit=4 << 20):
    chunks = []
    off = 0
    while off < limit:
        b = os.pread(fd, 1 << 20, off)
        if not b:
            break
        chunks.append(b)
        off += len(b)
    data = b''.join(chunks)
    return [len(data), sha(data)]


def attempt(fn):
    try:
        v = fn()
        return ['ok'] if v is None else ['ok', v]
    except OSError as e:
        return ['err', ename(e)]


def special_target(full):
    """'dev' if an open of full would reach a device node, 'fifo' for a fifo, else None."""
    try:
        m = os.stat(full).st_mode
    except OSError:
        return None
    if stat.S_ISCHR(m) or stat.S_ISBLK(m):
        return 'dev'
    return 'fifo' if stat.S_ISFIFO(m) else None


def execute(root, op):
    k = op['k']
    P = lambda rel: os.path.join(root, rel)   # noqa: E731
    if k in ('open', 'write', 'read'):
        full = P(op['path'])
        special = special_target(full)
        if special == 'dev':
            return ['skipped', 'device']
        flags = 0
        for f in op['flags']:
            flags |= FLAG[f]
        flags |= os.O_CLOEXEC | (os.O_NONBLOCK if special == 'fifo' else 0)
        os.umask(op['umask'])
        try:
            fd = os.open(full, flags, op['mode'])
        except OSError as e:
            return ['err', ename(e)]
        out = ['ok']
        try:
            for s in op['steps']:
                if s[0] == 'pwrite':
                    out.append(attempt(lambda: os.pwrite(fd, s[2], s[1])))
                elif s[0] == 'write':
                    out.append(attempt(lambda: os.write(fd, s[1])))
                elif s[0] == 'ftruncate':
                    out.append(attempt(lambda: os.ftruncate(fd, s[1])))
                elif s[0] == 'read':
                    out.append(attempt(lambda: read_fd(fd)))
                elif s[0] == 'fstat':
                    out.append(attempt(lambda: norm_stat(os.fstat(fd))))
        finally:
            out.append(attempt(lambda: os.close(fd)))
        return out
    if k == 'truncate':
        return attempt(lambda: os.truncate(P(op['path']), op['size']))
    if k == 'link':
        return attempt(lambda: os.link(P(op['src']), P(op['dst']), follow_symlinks=op['follow']))
    if k == 'unlink':
        return attempt(lambda: os.unlink(P(op['path'])))
    if k == 'rmdir':
        return attempt(lambda: os.rmdir(P(op['path'])))
    if k == 'rename':
        return attempt(lambda: os.rename(P(op['src']), P(op['dst'])))
    if k == 'rename2':
        return attempt(lambda: renameat2(P(op['src']), P(op['dst']), op['flags']))
    if k == 'mkdir':
        os.umask(op['umask'])
        return attempt(lambda: os.mkdir(P(op['path']), op['mode']))
    if k == 'symlink':
        return attempt(lambda: os.symlink(op['target'], P(op['path'])))
    if k == 'readlink':
        return attempt(lambda: os.readlink(P(op['path'])))
    if k == 'mknod':
        os.umask(op['umask'])
        fmt = 0 if op['fmt'] == '0' else getattr(stat, op['fmt'])
        return attempt(lambda: os.mknod(P(op['path']), fmt | op['mode'], os.makedev(*op['rdev'])))
    if k == 'mkfifo':
        os.umask(op['umask'])
        return attempt(lambda: os.mkfifo(P(op['path']), op['mode']))
    if k == 'chmod':
        return attempt(lambda: os.chmod(P(op['path']), op['mode']))
    if k == 'chown':
        return attempt(lambda: os.chown(P(op['path']), op['uid'], op['gid'], follow_symlinks=op['follow']))
    if k == 'utimens':
        return attempt(lambda: utimensat(P(op['path']), op['times'], op['follow']))
    if k == 'setxattr':
        return attempt(lambda: os.setxattr(P(op['path']), op['name'], op['value'], op['flags'], follow_symlinks=op['follow']))
    if k == 'getxattr':
        return attempt(lambda: (lambda v: [len(v), sha(v)])(os.getxattr(P(op['path']), op['name'], follow_symlinks=op['follow'])))
    if k == 'removexattr':
        return attempt(lambda: os.removexattr(P(op['path']), op['name'], follow_symlinks=op['follow']))
    if k == 'listxattr':
        return attempt(lambda: sorted(os.listxattr(P(op['path']), follow_symlinks=op['follow'])))
    if k == 'stat':
        return attempt(lambda: norm_stat(os.stat(P(op['path']))))
    if k == 'access':
        return attempt(lambda: access(P(op['path']), op['mode']))
    if k == 'listdir':
        return attempt(lambda: sorted(os.listdir(P(op['path']))))
    raise AssertionError(k)


def timed(root, op):
    """The coarse clock just before the op (see compare_times), and the op's result."""
    t = time.clock_gettime_ns(CLOCK_REALTIME_COARSE)
    return t, execute(root, op)


def op_paths(op):
    return [op[f] for f in ('path', 'src', 'dst') if f in op]


# ---------------------------------------------------------------------------------------------
# The walk (as root) and the comparison


def walk(root, xattrs):
    """rel path ('.' for the root) -> {'st', 'target', 'list', 'xattr', 'err'}, in sorted order."""
    out = {}

    def visit(rel, full):
        e = {}
        out[rel] = e
        try:
            st = os.lstat(full)
        except OSError as ex:
            e['err'] = ename(ex)
            return
        e['st'] = st
        if xattrs:
            try:
                names = sorted(os.listxattr(full, follow_symlinks=False))
                vals = {}
                for n in names:
                    try:
                        v = os.getxattr(full, n, follow_symlinks=False)
                        vals[n] = [len(v), sha(v)]
                    except OSError as ex:
                        vals[n] = ename(ex)
                e['xattr'] = vals
            except OSError as ex:
                e['xattr'] = ename(ex)
        if stat.S_ISLNK(st.st_mode):
            try:
                e['target'] = os.readlink(full)
            except OSError as ex:
                e['target'] = ['err', ename(ex)]
        elif stat.S_ISDIR(st.st_mode):
            try:
                names = sorted(os.listdir(full))
            except OSError as ex:
                e['list'] = ['err', ename(ex)]
                return
            e['list'] = names
            for n in names:
                visit(join(rel, n), full + '/' + n)

    visit('.', root)
    return out


def read_content(full):
    """Length and hash of a regular file's contents (anything else is refused, before it is opened)."""
    try:
        if not stat.S_ISREG(os.lstat(full).st_mode):
            return ['not a regular file']
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as ex:
        return ['err', ename(ex)]
    try:
        return read_fd(fd, 64 << 20)
    except OSError as ex:
        return ['err', ename(ex)]
    finally:
        os.close(fd)


def tkind(ns):
    s = ns // 1_000_000_000
    return 'now' if NOW_LO <= s < NOW_HI else 'explicit'


def fmt_ns(ns):
    s, n = divmod(ns, 1_000_000_000)
    return f'{s}.{n:09d}'


def compare(prev_a, prev_b, cur_a, cur_b, clocks, opts, stats, op=None):
    """Every difference between the two trees after an op, given the walks before it."""
    diffs = []
    # The kernel does a fifo's I/O itself; on FUSE it never tells the file system, so reading or
    # writing a fifo changes its times on tmpfs but not through a FUSE mount (any FUSE file
    # system: the kernel keeps no times of its own for FUSE inodes, S_NOCMTIME).
    fifo_io = op.get('path') if op is not None and op.get('k') in ('open', 'write', 'read') else None
    # chown(path, -1, -1) changes only the ctime; libfuse's path API has no call for that, so no
    # file system under it sees one (tmpfs moves the ctime, POSIX lets it stay). Its inode may
    # have other names, or be a symlink's target: no ctime is compared after such an op.
    noop_chown = op is not None and op.get('k') == 'chown' and op.get('uid') == -1 and op.get('gid') == -1
    pa, pb = set(cur_a), set(cur_b)
    if pa != pb:
        diffs.append({'what': 'paths', 'only_a': sorted(pa - pb), 'only_b': sorted(pb - pa)})
    common = sorted(pa & pb)
    for p in common:
        ea, eb = cur_a[p], cur_b[p]
        if 'err' in ea or 'err' in eb:
            if ea.get('err') != eb.get('err'):
                diffs.append({'path': p, 'what': 'lstat', 'a': ea.get('err', 'ok'), 'b': eb.get('err', 'ok')})
            continue
        sa, sb = ea['st'], eb['st']
        isdir = stat.S_ISDIR(sa.st_mode)
        fields = [('mode', oct(sa.st_mode & 0xffff), oct(sb.st_mode & 0xffff)),
                  ('uid', sa.st_uid, sb.st_uid), ('gid', sa.st_gid, sb.st_gid),
                  ('nlink', sa.st_nlink, sb.st_nlink), ('rdev', sa.st_rdev, sb.st_rdev)]
        if not isdir:   # directory sizes are the file system's business
            fields.append(('size', sa.st_size, sb.st_size))
        for f, va, vb in fields:
            if va != vb:
                diffs.append({'path': p, 'what': f, 'a': va, 'b': vb})
        for f in ('target', 'list', 'xattr'):
            if ea.get(f) != eb.get(f):
                diffs.append({'path': p, 'what': f, 'a': ea.get(f), 'b': eb.get(f)})
        io_on_fifo = stat.S_ISFIFO(sa.st_mode) and fifo_io is not None  # any fifo: the open may have followed a symlink
        unseen = io_on_fifo
        # A write or truncate by another user drops setuid/setgid. Linux changes the mode without
        # the ctime; through FUSE the kernel sends the new mode as a chmod, which moves it.
        was = prev_a.get(p, {}).get('st')
        killpriv = op is not None and op.get('k') in ('write', 'truncate', 'open') and was is not None and was.st_mode != sa.st_mode
        diffs.extend(compare_times(p, prev_a.get(p), prev_b.get(p), sa, sb, None if unseen else clocks, opts, stats,
                                   skip=('ctime',) if killpriv or noop_chown else ()))
    diffs.extend(compare_identity(common, cur_a, cur_b))
    return diffs


def compare_times(p, pa, pb, sa, sb, clocks, opts, stats, skip=()):
    """Explicit times (outside [NOW_LO, NOW_HI)) must be equal to the nanosecond. "Now" times cannot
    be, so for those whether the op changed them must agree, when the path names the same inode
    before and after the op in both trees. ctime is always "now".

    A time the op left equal is certain to be unchanged only if it is older than the coarse clock
    read just before the op in that tree (clocks): tmpfs stamps current_time(), which is that clock
    (a tick, 4 ms at HZ=250), so an update within the tick of the previous one leaves the same
    value. Otherwise that field's "changed" is unknown and not compared (counted in the summary as
    time_changes_unknown); a change in one tree against a certain non-change in the other is a
    mismatch."""
    diffs = []
    same_a = pa is not None and 'st' in pa and pa['st'].st_ino == sa.st_ino
    same_b = pb is not None and 'st' in pb and pb['st'].st_ino == sb.st_ino
    if pa is not None and pb is not None and same_a != same_b:
        diffs.append({'path': p, 'what': 'same inode as before the op', 'a': same_a, 'b': same_b})
        return diffs
    fields = ['mtime', 'ctime'] + ([] if opts.relax_atime else ['atime'])
    for f in fields:
        va, vb = getattr(sa, f'st_{f}_ns'), getattr(sb, f'st_{f}_ns')
        ka, kb = tkind(va), tkind(vb)
        if ka != kb or (ka == 'explicit' and va != vb) or (f == 'ctime' and ka != 'now'):
            diffs.append({'path': p, 'what': f, 'a': fmt_ns(va), 'b': fmt_ns(vb)})
            continue
        if ka == 'now' and same_a and same_b and clocks is not None and f not in skip:
            was_a, was_b = getattr(pa['st'], f'st_{f}_ns'), getattr(pb['st'], f'st_{f}_ns')
            ca = 'changed' if was_a != va else 'unchanged' if was_a < clocks[0] else 'unknown'
            cb = 'changed' if was_b != vb else 'unchanged' if was_b < clocks[1] else 'unknown'
            if 'unknown' in (ca, cb) and ca != cb:
                stats['time_changes_unknown'] += 1
            else:
                stats['time_changes_compared'] += 1
            if {ca, cb} == {'changed', 'unchanged'}:
                diffs.append({'path': p, 'what': f'{f} changed by the op', 'a': ca, 'b': cb,
                              'a_ns': [fmt_ns(was_a), fmt_ns(va)], 'b_ns': [fmt_ns(was_b), fmt_ns(vb)],
                              'clock_before_op': [fmt_ns(clocks[0]), fmt_ns(clocks[1])]})
    return diffs


def compare_identity(paths, cur_a, cur_b):
    """Which paths share an inode: for every pair, (ino_a1 == ino_a2) == (ino_b1 == ino_b2)."""
    def canon(cur):
        first = {}
        out = {}
        for p in paths:
            st = cur[p].get('st')
            if st is None:
                continue
            key = (st.st_dev, st.st_ino)
            out[p] = first.setdefault(key, p)
        return out
    ca, cb = canon(cur_a), canon(cur_b)
    diffs = []
    groups_a, groups_b = {}, {}
    for p in paths:
        if p in ca and p in cb and ca[p] != cb[p]:
            groups_a.setdefault(ca[p], []).append(p)
            groups_b.setdefault(cb[p], []).append(p)
    if groups_a or groups_b:
        def all_groups(c):
            g = {}
            for p, k in c.items():
                g.setdefault(k, []).append(p)
            return sorted(v for v in g.values() if len(v) > 1)
        diffs.append({'what': 'hard-link identity (paths sharing an inode)', 'a': all_groups(ca), 'b': all_groups(cb)})
    return diffs


def strip(v, ignore):
    """A result without the stat fields --ignore names."""
    if isinstance(v, dict):
        return {k: strip(x, ignore) for k, x in v.items() if k not in ignore}
    if isinstance(v, list):
        return [strip(x, ignore) for x in v]
    return v


def diff_kind(d):
    """The name --ignore knows a diff by."""
    w = d['what']
    if w.startswith('hard-link') or w.startswith('same inode'):
        return 'identity'
    return w.split(' ')[0]


def content_paths(op, prev, cur):
    """Regular files whose contents the op may have changed: new paths, another inode, another size
    or mtime, and the op's own paths."""
    out = set()
    named = {p.rstrip('/') for p in op_paths(op)}
    for p, e in cur.items():
        st = e.get('st')
        if st is None or not stat.S_ISREG(st.st_mode):   # never a device node
            continue
        q = prev.get(p, {}).get('st')
        if p in named or q is None or q.st_ino != st.st_ino or q.st_size != st.st_size or q.st_mtime_ns != st.st_mtime_ns:
            out.add(p)
    return out


# ---------------------------------------------------------------------------------------------
# Reporting

_RUN = re.compile(r'(.)\1{15,}', re.S)


def jsonable(v):
    """Ops and results for a JSON line: bytes as their length and hash, long runs of one character shortened."""
    if isinstance(v, (bytes, bytearray)):
        return {'bytes': len(v), 'sha256': sha(v)}
    if isinstance(v, str):
        return _RUN.sub(lambda m: f'<{len(m.group(0))}x{m.group(1)}>', v)
    if isinstance(v, dict):
        return {jsonable(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def emit(obj):
    sys.stdout.write(json.dumps(jsonable(obj), ensure_ascii=False, sort_keys=False) + '\n')
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# The unprivileged executor (--as-user): a forked child, ops in, results out, over pipes


def send(fd, obj):
    b = pickle.dumps(obj)
    b = struct.pack('<I', len(b)) + b
    while b:
        b = b[os.write(fd, b):]


def recv(fd):
    def exactly(n):
        buf = b''
        while len(buf) < n:
            c = os.read(fd, n - len(buf))
            if not c:
                return None
            buf += c
        return buf
    h = exactly(4)
    if h is None:
        return None
    return pickle.loads(exactly(struct.unpack('<I', h)[0]))


class LocalExecutor:
    def __init__(self, roots):
        self.roots = roots

    def run(self, op):
        return [timed(r, op) for r in self.roots]

    def close(self):
        pass


class UserExecutor:
    def __init__(self, roots, uid, gid):
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(to_child_w)
                os.close(to_parent_r)
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                while True:
                    op = recv(to_child_r)
                    if op is None:
                        break
                    send(to_parent_w, [timed(r, op) for r in roots])
            except BaseException as e:   # noqa: BLE001 (the parent reports the child's death)
                sys.stderr.write(f'diff.py: user child: {e!r}\n')
                code = 3
            os._exit(code)
        os.close(to_child_r)
        os.close(to_parent_w)
        self.pid, self.w, self.r = pid, to_child_w, to_parent_r

    def run(self, op):
        send(self.w, op)
        res = recv(self.r)
        if res is None:
            raise RuntimeError('the unprivileged child died')
        return res

    def close(self):
        os.close(self.w)
        os.close(self.r)
        os.waitpid(self.pid, 0)


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--ops', type=int, default=1000)
    ap.add_argument('--a', required=True, help='the reference directory (tmpfs -o noatime)')
    ap.add_argument('--b', required=True, help='the directory under test')
    ap.add_argument('--as-user', metavar='UID:GID', help='perform the operations as this user (a forked child)')
    ap.add_argument('--exclude', default='', help='(debugging) comma-separated op kinds never to generate')
    ap.add_argument('--no-xattr', action='store_true', help='(debugging) no xattr ops, no xattr comparison')
    ap.add_argument('--ignore', default='', help='(debugging) comma-separated comparisons to skip, to look past a known '
                    'gap: result, paths, mode, uid, gid, nlink, size, rdev, target, list, xattr, atime, mtime, ctime, '
                    'identity, content')
    ap.add_argument('--relax-atime', action='store_true',
                    help='do not compare atimes (for a reference that is not noatime, e.g. ext4 relatime)')
    ap.add_argument('--trace', action='store_true', help='every op and its results on stderr')
    opts = ap.parse_args()

    roots = [os.path.abspath(opts.a), os.path.abspath(opts.b)]
    for r in roots:
        if not os.path.isdir(r):
            print(f'diff.py: not a directory: {r}', file=sys.stderr)
            return 2
    exclude = [x for x in opts.exclude.split(',') if x]
    ignore = {x for x in opts.ignore.split(',') if x}
    if opts.no_xattr:
        exclude += ['setxattr', 'getxattr', 'listxattr', 'removexattr']
    uid = gid = 0
    as_user = opts.as_user is not None
    if as_user:
        uid, gid = (int(x) for x in opts.as_user.split(':'))
        for r in roots:
            os.chmod(r, 0o777)

    rng = random.Random(opts.seed)
    gen = Gen(rng, as_user, uid, gid, exclude)
    by_kind, errnos = {}, {}
    stats = {'time_changes_compared': 0, 'time_changes_unknown': 0}
    start = time.monotonic()
    executor = UserExecutor(roots, uid, gid) if as_user else LocalExecutor(roots)
    recent = []
    mismatch = None
    done = 0
    try:
        xat = not opts.no_xattr
        prev_a, prev_b = walk(roots[0], xat), walk(roots[1], xat)
        diffs = [d for d in compare({}, {}, prev_a, prev_b, None, opts, stats) if diff_kind(d) not in ignore]
        if diffs:
            mismatch = {'index': -1, 'op': 'the trees differ before the first op', 'diffs': diffs}
        for i in range(opts.ops if mismatch is None else 0):
            op = gen.next({p: (e['st'].st_mode, e['st'].st_size, e['st'].st_uid) for p, e in prev_a.items() if 'st' in e})
            (ta, ra), (tb, rb) = executor.run(op)
            done = i + 1
            by_kind[op['k']] = by_kind.get(op['k'], 0) + 1
            for res in (ra if op['k'] in ('open', 'write', 'read') and ra[0] == 'ok' else [ra]):
                if isinstance(res, list) and res and res[0] == 'err':
                    errnos[res[1]] = errnos.get(res[1], 0) + 1
            if opts.trace:
                sys.stderr.write(json.dumps(jsonable({'i': i, 'op': op, 'a': ra, 'b': rb}), ensure_ascii=False) + '\n')
            cur_a, cur_b = walk(roots[0], xat), walk(roots[1], xat)
            diffs = []
            if strip(ra, ignore) != strip(rb, ignore):
                diffs.append({'what': 'result', 'a': ra, 'b': rb})
            diffs.extend(compare(prev_a, prev_b, cur_a, cur_b, (ta, tb), opts, stats, op))
            for p in sorted(content_paths(op, prev_a, cur_a) | content_paths(op, prev_b, cur_b)):
                if all(p in cur and 'st' in cur[p] and stat.S_ISREG(cur[p]['st'].st_mode) for cur in (cur_a, cur_b)):
                    ca, cb = read_content(os.path.join(roots[0], p)), read_content(os.path.join(roots[1], p))
                    if ca != cb:
                        diffs.append({'path': p, 'what': 'content', 'a': ca, 'b': cb})
            diffs = [d for d in diffs if diff_kind(d) not in ignore]
            recent = (recent + [{'i': i, 'op': op, 'a': ra}])[-8:]
            if diffs:
                mismatch = {'index': i, 'op': op, 'a': ra, 'b': rb, 'diffs': diffs, 'before': recent[:-1]}
                break
            prev_a, prev_b = cur_a, cur_b
    finally:
        executor.close()
    secs = round(time.monotonic() - start, 3)
    user = f' --as-user {opts.as_user}' if as_user else ''
    if mismatch is not None:
        emit({'mismatch': True, 'seed': opts.seed, **mismatch,
              'replay': f'python3 diff.py --seed {opts.seed} --ops {done} --a A --b B{user} --trace (in fresh directories)'})
    emit({'summary': True, 'seed': opts.seed, 'as_user': opts.as_user, 'ops_run': done, 'ok': mismatch is None,
          'seconds': secs, **stats, 'by_kind': dict(sorted(by_kind.items())), 'errnos': dict(sorted(errnos.items(), key=lambda kv: -kv[1]))})
    return 0 if mismatch is None else 1


if __name__ == '__main__':
    sys.exit(main())
