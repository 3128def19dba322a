import { encode } from 'cborg'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BlockInvalidError, InvalidNameError, UnsupportedFormatError, hashKey } from '../../../src/core/index.js'
import { BlockKind, MAX_BLOCK_BYTES as DHASH_MAX } from '../../../src/dhash/index.js'
import { decodeCbor, encodeCbor } from '../../../src/fs/codec.js'
import { dirNodeCodec, type DirNode } from '../../../src/fs/dir-node.js'
import { CONTENT_BLOCK, MAX_BLOCK_BYTES, ROOT_BLOCK } from '../../../src/fs/format.js'
import { indirectCodec } from '../../../src/fs/indirect.js'
import { inodeCodec, type Inode } from '../../../src/fs/inode.js'
import { checkName, compareNames, splitPath } from '../../../src/fs/names.js'
import { rootRecordCodec } from '../../../src/fs/root-record.js'
import { thrown } from '../../helpers/thrown.js'

const k = (s: string): ReturnType<typeof hashKey> => hashKey(s)

describe('file tree formats', () => {
  it('agree with the block layer on limits and kinds', () => {
    expect(MAX_BLOCK_BYTES).toBe(DHASH_MAX)
    expect(CONTENT_BLOCK).toBe(BlockKind.CONTENT)
    expect(ROOT_BLOCK).toBe(BlockKind.ROOT)
  })

  it('encode deterministically: map order does not matter', () => {
    expect(Buffer.from(encodeCbor({ b: 1, a: [2, 'x'] }))).toEqual(Buffer.from(encodeCbor({ a: [2, 'x'], b: 1 })))
  })

  it('refuse a non-canonical encoding of a valid value', () => {
    const record = { v: 2, t: 'root', seq: 1, time: 5, top: k('t'), prev: null }
    const canonical = encodeCbor(record)
    expect(rootRecordCodec.decode(canonical, 'r')).toEqual({ seq: 1, timeMs: 5, top: k('t'), prev: null })
    // Same map, keys in length-first (RFC 7049) order instead of bytewise: another encoding.
    const reordered = encode(record)
    if (Buffer.compare(reordered, canonical) !== 0) expect(thrown(() => decodeCbor(reordered, 'r'))).toBeInstanceOf(BlockInvalidError)
    // An integer in a longer form than needed.
    const long = Uint8Array.from([...encodeCbor([1]).subarray(0, 1), 0x18, 0x01])
    expect(thrown(() => decodeCbor(long, 'x'))).toBeInstanceOf(BlockInvalidError)
    expect(thrown(() => decodeCbor(Uint8Array.of(0xff), 'x'))).toBeInstanceOf(BlockInvalidError)
  })

  it('round-trip every block type and reject malformed ones', () => {
    const attrs = { ino: 7, uid: 1000, gid: 100, nlink: 1, rdev: 0, atimeNs: 3n, mtimeNs: 1n, ctimeNs: 2n, xattrs: [] }
    const inodes: Inode[] = [
      { type: 'file', ...attrs, mode: 0o644, size: 300_000, blockSize: 262_144, depth: 1, data: k('d'), inline: null },
      // Before 1970 and after 2038, to the nanosecond; setuid; extended attributes.
      { type: 'file', ...attrs, mode: 0o4755, size: 0, mtimeNs: -5_000_000_001n, ctimeNs: 4_102_444_800_123_456_789n, blockSize: 8192, depth: 0, data: null, inline: null, xattrs: [['user.a', Uint8Array.of(1)], ['user.b', new Uint8Array(0)]] },
      { type: 'dir', ...attrs, mode: 0o1777, nlink: 3, size: 2, entries: k('e') },
      { type: 'dir', ...attrs, ino: 1, mode: 0o755, nlink: 2, size: 0, entries: null, table: { links: k('l'), nextIno: 9 } },
      { type: 'symlink', ...attrs, mode: 0o777, size: 4, target: 'a/bc' },
      { type: 'chardev', ...attrs, mode: 0o600, size: 0, rdev: 0x0501 },
      { type: 'fifo', ...attrs, mode: 0o644, nlink: 2, size: 0 },
      // A small file keeps its bytes inline, trailing zeros trimmed; a larger one in a data block.
      { type: 'file', ...attrs, mode: 0o644, size: 4096, blockSize: 1_048_576, depth: 0, data: null, inline: Uint8Array.of(1, 0, 2) },
      { type: 'file', ...attrs, mode: 0o644, size: 4097, blockSize: 1_048_576, depth: 0, data: k('d'), inline: null },
      { type: 'file', ...attrs, mode: 0o644, size: 100, blockSize: 64, depth: 1, data: k('d'), inline: null }, // over its block size
    ]
    for (const inode of inodes) expect(inodeCodec.decode(inodeCodec.encode(inode), 'i')).toEqual(inode)
    const bad: Inode[] = [
      { ...inodes[0]!, depth: 2 } as Inode, // the depth follows from the size
      { ...inodes[1]!, data: k('x') } as Inode, // an empty file has no data
      { ...inodes[4]!, size: 9 }, // a link's size is its target's length
      { ...inodes[0]!, mode: 0o17777 },
      { ...inodes[0]!, nlink: 0 },
      { ...inodes[0]!, ino: 0 },
      { ...inodes[2]!, nlink: 1 }, // a directory has . and its name
      { ...inodes[3]!, table: { links: null, nextIno: 1 } } as Inode, // numbers are given out above the top's
      { ...inodes[1]!, xattrs: [['user.b', Uint8Array.of(1)], ['user.a', Uint8Array.of(1)]] }, // sorted by name
      { ...inodes[7]!, data: k('x'), inline: null } as Inode, // a small file has no data block
      { ...inodes[8]!, data: null, inline: Uint8Array.of(1) } as Inode, // nor a larger one inline bytes
      { ...inodes[9]!, depth: 0, data: null, inline: Uint8Array.of(1) } as Inode,
      { ...inodes[7]!, inline: Uint8Array.of(1, 0) } as Inode, // inline bytes are trimmed
      { ...inodes[7]!, inline: new Uint8Array(0) } as Inode, // all zeros: none
      { ...inodes[7]!, size: 2, inline: Uint8Array.of(1, 2, 3) } as Inode, // no more than the size
    ]
    for (const inode of bad) expect(thrown(() => inodeCodec.decode(inodeCodec.encode(inode), 'i'))).toBeInstanceOf(BlockInvalidError)
    expect(thrown(() => inodeCodec.decode(encodeCbor({ v: 3, t: 'inode' }), 'i'))).toBeInstanceOf(BlockInvalidError)
    expect(thrown(() => inodeCodec.decode(encodeCbor({ v: 2, t: 'dir', level: 0, items: [] }), 'i'))).toBeInstanceOf(BlockInvalidError)
    expect((thrown(() => inodeCodec.decode(encodeCbor({ v: 4, t: 'inode' }), 'i')) as Error).message).toMatch(/unknown format version 4/)
    // Format 2 is read: a small file's bytes were in a data block, and no inode had inline bytes.
    const v2 = (inode: Inode): Uint8Array => encodeCbor({ ...decodeCbor(inodeCodec.encode(inode), 'i') as object, v: 2 })
    expect(inodeCodec.decode(v2(bad[9]!), 'i')).toEqual(bad[9])
    expect(thrown(() => inodeCodec.decode(v2(inodes[7]!), 'i'))).toBeInstanceOf(BlockInvalidError)
    // Format 1 (cfs 0.1) is refused by name, not guessed at.
    const old = thrown(() => inodeCodec.decode(encodeCbor({ v: 1, t: 'inode', type: 1, mode: 0o644, size: 0, mtime: 1, ctime: 1, bs: 8192, depth: 0, data: null }), 'i'))
    expect(old).toBeInstanceOf(UnsupportedFormatError)
    expect((old as Error).message).toMatch(/format 1.*cfs get/)

    const a = { ino: 2, uid: 0, gid: 0, nlink: 1, rdev: 0, atimeNs: 1n, mtimeNs: 1n, ctimeNs: 1n }
    const leaf: DirNode = {
      level: 0,
      items: [
        { name: 'a', type: 'file', key: k('1'), ...a, mode: 0o644, size: 3 },
        { name: 'b', type: 'dir', key: k('2'), ...a, ino: 3, nlink: 2, mode: 0o755, size: 0 },
        { name: 'c', type: 'file', ino: 4, key: null }, // a hard link: the inode is in the table
      ],
    }
    expect(dirNodeCodec.decode(dirNodeCodec.encode(leaf), 'n')).toEqual(leaf)
    const inner: DirNode = { level: 1, items: [{ last: 'm', key: k('3'), count: 10 }, { last: 'z', key: k('4'), count: 1 }] }
    expect(dirNodeCodec.decode(dirNodeCodec.encode(inner), 'n')).toEqual(inner)
    const unsorted = { level: 0, items: [...leaf.items].reverse() } as DirNode
    expect(thrown(() => dirNodeCodec.decode(dirNodeCodec.encode(unsorted), 'n'))).toBeInstanceOf(BlockInvalidError)
    const badName = { level: 0, items: [{ ...leaf.items[0]!, name: 'a/b' }] } as DirNode
    expect(thrown(() => dirNodeCodec.decode(dirNodeCodec.encode(badName), 'n'))).toBeInstanceOf(BlockInvalidError)

    expect(indirectCodec.decode(indirectCodec.encode({ level: 1, ptrs: [null, k('p')] }), 'x')).toEqual({ level: 1, ptrs: [null, k('p')] })
    expect(thrown(() => indirectCodec.decode(indirectCodec.encode({ level: 1, ptrs: [k('p'), null] }), 'x'))).toBeInstanceOf(BlockInvalidError)
    expect(thrown(() => indirectCodec.decode(indirectCodec.encode({ level: 0, ptrs: [k('p')] }), 'x'))).toBeInstanceOf(BlockInvalidError)
    expect(thrown(() => rootRecordCodec.decode(rootRecordCodec.encode({ seq: 0, timeMs: 1, top: k('t'), prev: null }), 'r'))).toBeInstanceOf(BlockInvalidError)
  })
})

describe('names', () => {
  it('accept ordinary UTF-8 names up to 255 bytes', () => {
    for (const n of ['a', 'README.md', '.hidden', '...', 'ünïcödé', '日本語', '😀', 'x'.repeat(255), 'é'.repeat(127)]) {
      expect(() => { checkName(n) }, n).not.toThrow()
    }
  })

  it('refuse empty, dot, dot-dot, slash, NUL, too long and ill-formed names', () => {
    for (const n of ['', '.', '..', 'a/b', '/', 'a\0b', 'x'.repeat(256), 'é'.repeat(128), '😀'.repeat(64), '\ud800', 'a\udc00b']) {
      expect(thrown(() => { checkName(n) }), JSON.stringify(n)).toBeInstanceOf(InvalidNameError)
    }
    expect(thrown(() => { checkName(5 as unknown as string) })).toBeInstanceOf(TypeError)
  })

  it('split paths, ignoring repeated slashes, refusing . and ..', () => {
    expect(splitPath('/')).toEqual([])
    expect(splitPath('')).toEqual([])
    expect(splitPath('//a///b/')).toEqual(['a', 'b'])
    expect(thrown(() => splitPath('/a/../b'))).toBeInstanceOf(InvalidNameError)
    expect(thrown(() => splitPath('/a/./b'))).toBeInstanceOf(InvalidNameError)
  })

  it('order as their UTF-8 bytes do (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      expect(Math.sign(compareNames(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))))
    }), { seed: 3, numRuns: 2_000 })
    expect(compareNames('\uffff', '😀')).toBeLessThan(0) // U+FFFF < U+1F600, though UTF-16 says otherwise
  })
})
