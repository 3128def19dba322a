#!/usr/bin/env python3
"""Prints a tree as one line per entry, sorted: path, type, mode, owner, group, link count,
size (not of directories), nanosecond mtime, device number, extended attributes, and which
earlier path it is a hard link of. Two trees with equal listings have equal metadata; the
FUSE tests compare a copy made through a mount with its source this way (diff -r compares
the contents)."""
import os
import stat
import sys

TYPES = {stat.S_IFREG: 'f', stat.S_IFDIR: 'd', stat.S_IFLNK: 'l', stat.S_IFIFO: 'p',
         stat.S_IFSOCK: 's', stat.S_IFCHR: 'c', stat.S_IFBLK: 'b'}


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ''
    out = []
    for name in sorted(names):
        if name.startswith('security.selinux'):
            continue
        out.append('%s=%s' % (name, os.getxattr(path, name, follow_symlinks=False).hex()))
    return ','.join(out)


def main(root):
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            paths.append(os.path.join(dirpath, name))
    first_of = {}
    lines = []
    for path in sorted(paths, key=lambda p: os.path.relpath(p, root).encode()):
        st = os.lstat(path)
        kind = TYPES[stat.S_IFMT(st.st_mode)]
        rel = os.path.relpath(path, root)
        link_of = '-'
        if kind != 'd' and st.st_nlink > 1:
            link_of = first_of.setdefault(st.st_ino, rel)
            if link_of == rel:
                link_of = '='
        size = '-' if kind == 'd' else str(st.st_size)
        rdev = str(st.st_rdev) if kind in 'cb' else '-'
        lines.append(' '.join([rel, kind, oct(stat.S_IMODE(st.st_mode)), str(st.st_uid), str(st.st_gid),
                               str(st.st_nlink), size, str(st.st_mtime_ns), rdev,
                               xattrs(path) or '-', link_of]))
    sys.stdout.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main(sys.argv[1])
