import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { asKey, toHex, type Key } from '../../../src/core/index.js'
import { MAX_ITEMS, boundaryHash, dirNodeCodec, isBoundary, type InodeEntry } from '../../../src/fs/dir-node.js'
import { buildDirectory, editDirectory, listEntries, lookupEntry, type Edit } from '../../../src/fs/directory.js'
import { compareNames } from '../../../src/fs/names.js'
import { MapTreeStore, collect } from './helpers.js'

const FC = { seed: 4, numRuns: 40 } as const

let serial = 0
const keys = new Map<string, Key>()
/** A distinct fake inode key per (name, n), cheaper than hashing 100,000 names. */
function keyFor (id: string): Key {
  let key = keys.get(id)
  if (key === undefined) {
    key = asKey(new Uint8Array(32))
    new DataView(key.buffer).setUint32(0, ++serial)
    keys.set(id, key)
  }
  return key
}

function entry (name: string, n = 0): InodeEntry {
  return {
    name, type: 'file', key: keyFor(`${name}/${n}`), ino: 2 + n, mode: 0o644, uid: 0, gid: 0, nlink: 1, size: n, rdev: 0,
    atimeNs: 1000n, mtimeNs: BigInt(1000 + n), ctimeNs: BigInt(1000 + n),
  }
}

function sorted (entries: Iterable<InodeEntry>): InodeEntry[] {
  return [...entries].sort((a, b) => compareNames(a.name, b.name))
}

async function depthOf (store: MapTreeStore, top: Parameters<typeof lookupEntry>[1]): Promise<number> {
  return top === null ? 0 : (await store.load(top, dirNodeCodec)).level + 1
}

describe('directory entry tree', () => {
  it('a node encodes to the same bytes whether its entries were encoded before or not', () => {
    const items = Array.from({ length: 50 }, (_, i) => entry(`f${String(i).padStart(3, '0')}`, i))
    const first = dirNodeCodec.encode({ level: 0, items })
    // The same entry objects again (their encodings kept), one changed, and all fresh copies.
    const changed = items.map((e, i) => i === 7 ? { ...e, size: 12345 } : e)
    expect(Buffer.from(dirNodeCodec.encode({ level: 0, items }))).toEqual(Buffer.from(first))
    const fresh = changed.map((e) => ({ ...e }))
    expect(Buffer.from(dirNodeCodec.encode({ level: 0, items: changed }))).toEqual(Buffer.from(dirNodeCodec.encode({ level: 0, items: fresh })))
    expect(dirNodeCodec.decode(dirNodeCodec.encode({ level: 0, items: changed }), 'node').items[7]).toMatchObject({ size: 12345 })
  })

  it('boundary hashes are part of the format: where nodes end, so which keys a directory has', () => {
    // Pinned: any change to boundaryHash gives the same entries other nodes and keys.
    const pinned: Array<[number, string, number]> = [
      [0, 'a', 2507021586], [0, 'package.json', 3690484587], [1, 'node_modules', 1292084184], [0, 'é', 3439437450],
      [2, '日本語', 3380238415], [0, '😀x', 3718793355], [3, '\ud800', 3295143962],
    ]
    for (const [level, name, hash] of pinned) expect(boundaryHash(level, name)).toBe(hash)
  })

  it('is empty as null, and finds nothing', async () => {
    const store = new MapTreeStore()
    expect(await buildDirectory(store, [])).toBeNull()
    expect(await lookupEntry(store, null, 'a')).toBeUndefined()
    expect(await collect(listEntries(store, null))).toEqual([])
    expect(await editDirectory(store, null, [{ name: 'a', item: null }])).toBeNull()
  })

  it('gives the same blocks for the same entries whatever the edit history (property)', async () => {
    const store = new MapTreeStore()
    const name = fc.stringMatching(/^[a-f0-9]{1,6}$/)
    const op = fc.record({ name, del: fc.boolean(), n: fc.nat(5) })
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(name, { minLength: 0, maxLength: 3000 }),
      fc.array(fc.array(op, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 6 }),
      async (initial, batches) => {
        const model = new Map(initial.map((n) => [n, entry(n)]))
        let top = await buildDirectory(store, sorted(model.values()))
        for (const batch of batches) {
          const edits = new Map<string, Edit<InodeEntry>>()
          for (const o of batch) {
            const item = o.del ? null : entry(o.name, o.n)
            edits.set(o.name, { name: o.name, item })
            if (item === null) model.delete(o.name)
            else model.set(o.name, item)
          }
          top = await editDirectory(store, top, [...edits.values()])
        }
        const rebuilt = await buildDirectory(store, sorted(model.values()))
        expect(top === null ? null : toHex(top)).toEqual(rebuilt === null ? null : toHex(rebuilt))
        expect(await collect(listEntries(store, top))).toEqual(sorted(model.values()))
      }), FC)
  }, 60_000)

  it('stays canonical where runs of names without a boundary force node ends', async () => {
    const store = new MapTreeStore()
    const names: string[] = []
    for (let i = 0; names.length < 2 * MAX_ITEMS + 500; i++) {
      const n = `n${i}`
      if (!isBoundary(0, n, 1)) names.push(n)
    }
    names.sort(compareNames)
    const all = names.map((n) => entry(n))
    let top = await buildDirectory(store, all)
    const root = await store.load(top!, dirNodeCodec)
    expect(root.level).toBe(1)
    expect(root.items.length).toBe(3) // two forced ends, then the rest
    // Insert near the front: every forced boundary after it moves by one.
    top = await editDirectory(store, top, [{ name: 'm', item: entry('m') }])
    expect(toHex(top!)).toBe(toHex((await buildDirectory(store, sorted([...all, entry('m')])))!))
    top = await editDirectory(store, top, [{ name: 'm', item: null }, { name: names[5]!, item: null }])
    expect(toHex(top!)).toBe(toHex((await buildDirectory(store, all.filter((e) => e.name !== names[5])))!))
  })

  it('looks up, lists in order, and lists from a name or an offset', async () => {
    const store = new MapTreeStore()
    const all = sorted(Array.from({ length: 5000 }, (_, i) => entry(`file-${i}`)))
    const top = await buildDirectory(store, all)
    expect(await depthOf(store, top)).toBeGreaterThan(1)
    for (const i of [0, 1, 777, 4999]) expect(await lookupEntry(store, top, all[i]!.name)).toEqual(all[i])
    expect(await lookupEntry(store, top, 'file-')).toBeUndefined()
    expect(await lookupEntry(store, top, 'zzz')).toBeUndefined()
    expect(await collect(listEntries(store, top))).toEqual(all)
    for (const offset of [0, 1, 63, 64, 65, 1000, 4998, 4999, 5000, 6000]) {
      expect((await collect(listEntries(store, top, { offset }))).map((e) => e.name), `offset ${offset}`).toEqual(all.slice(offset).map((e) => e.name))
    }
    for (const i of [0, 100, 2500, 4999]) {
      expect((await collect(listEntries(store, top, { after: all[i]!.name }))).length).toBe(4999 - i)
    }
    expect((await collect(listEntries(store, top, { after: 'file-2500x' })))[0]!.name).toBe(all.find((e) => compareNames(e.name, 'file-2500x') > 0)!.name)
    await expect(collect(listEntries(store, top, { after: 'a', offset: 2 }))).rejects.toThrow(TypeError)
  }, 30_000)

  it('100,000 entries: changing one entry rewrites at most one node per level', async () => {
    const store = new MapTreeStore()
    const all = sorted(Array.from({ length: 100_000 }, (_, i) => entry(`entry-${i.toString(36)}-${(i * 7919) % 100_003}`)))
    let top = await buildDirectory(store, all)
    const depth = await depthOf(store, top)
    expect(depth).toBeGreaterThanOrEqual(3)
    const rewrites: number[] = []
    const model = new Map(all.map((e) => [e.name, e]))
    for (const edit of [
      { name: 'entry-new-one', item: entry('entry-new-one') }, // add
      { name: all[50_000]!.name, item: null }, // remove
      { name: all[123]!.name, item: entry(all[123]!.name, 9) }, // change
      { name: 'a-first', item: entry('a-first') }, // add before all
      { name: 'zz-last', item: entry('zz-last') }, // add after all
    ]) {
      store.reset()
      top = await editDirectory(store, top, [edit])
      if (edit.item === null) model.delete(edit.name)
      else model.set(edit.name, edit.item)
      rewrites.push(store.written.size)
      expect(store.written.size).toBeLessThanOrEqual(2 * depth + 2)
    }
    console.log(`100k-entry directory: depth ${depth}; blocks written per single-entry edit: ${rewrites.join(', ')}`)
    expect(await lookupEntry(store, top, 'entry-new-one')).toEqual(entry('entry-new-one'))
    expect(await lookupEntry(store, top, all[50_000]!.name)).toBeUndefined()
    let count = 0
    let ordered = true
    let previous = ''
    for await (const e of listEntries(store, top)) {
      ordered &&= compareNames(previous, e.name) < 0
      previous = e.name
      count++
    }
    expect(ordered).toBe(true)
    expect(count).toBe(100_000 + 2)
    // The edited tree is exactly the one built from scratch from the same entries.
    expect(toHex(top!)).toBe(toHex((await buildDirectory(store, sorted(model.values())))!))
  }, 60_000)
})
