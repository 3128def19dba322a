import { encode } from 'cborg'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BlockInvalidError, InvalidNameError, hashKey } from '../../../src/core/index.js'
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
    const record = { v: 1, t: 'root', seq: 1, time: 5, top: k('t'), prev: null }
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
    const inodes: Inode[] = [
      { type: 'file', mode: 0o644, size: 300_000, mtimeMs: 1, ctimeMs: 2, blockSize: 262_144, depth: 1, data: k('d') },
      { type: 'file', mode: 0o600, size: 0, mtimeMs: -5, ctimeMs: 2, blockSize: 8192, depth: 0, data: null },
      { type: 'dir', mode: 0o755, size: 2, mtimeMs: 1, ctimeMs: 2, entries: k('e') },
      { type: 'symlink', mode: 0o777, size: 4, mtimeMs: 1, ctimeMs: 2, target: 'a/bc' },
    ]
    for (const inode of inodes) expect(inodeCodec.decode(inodeCodec.encode(inode), 'i')).toEqual(inode)
    const bad: Inode[] = [
      { ...inodes[0]!, depth: 2 } as Inode, // the depth follows from the size
      { ...inodes[1]!, data: k('x') } as Inode, // an empty file has no data
      { ...inodes[3]!, size: 9 }, // a link's size is its target's length
      { ...inodes[0]!, mode: 0o17777 },
    ]
    for (const inode of bad) expect(thrown(() => inodeCodec.decode(inodeCodec.encode(inode), 'i'))).toBeInstanceOf(BlockInvalidError)
    expect(thrown(() => inodeCodec.decode(encodeCbor({ v: 2, t: 'inode' }), 'i'))).toBeInstanceOf(BlockInvalidError)
    expect(thrown(() => inodeCodec.decode(encodeCbor({ v: 1, t: 'dir', level: 0, items: [] }), 'i'))).toBeInstanceOf(BlockInvalidError)

    const leaf: DirNode = { level: 0, items: [{ name: 'a', type: 'file', key: k('1'), mode: 0o644, size: 3, mtimeMs: 1, ctimeMs: 1 }, { name: 'b', type: 'dir', key: k('2'), mode: 0o755, size: 0, mtimeMs: 1, ctimeMs: 1 }] }
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
