import { hashKey, toHex, type Key } from '../../../src/core/index.js'
import { nsToMs, type FileSystem } from '../../../src/fs/index.js'
import type { NodeCodec, TreeStore } from '../../../src/fs/tree-store.js'
import type { Dump } from './fs-model.js'

/**
 * A TreeStore over a Map that counts what it writes: the pure tree functions are tested
 * without a volume. `written` holds the keys saved since `reset()`.
 */
export class MapTreeStore implements TreeStore {
  readonly blocks = new Map<string, Uint8Array>()
  /** Decoded blocks, as the real stores cache them (decoding also checks the encoding). */
  private readonly decoded = new Map<string, unknown>()
  written = new Set<string>()
  dataPuts = 0
  metaPuts = 0

  reset (): void {
    this.written = new Set()
    this.dataPuts = 0
    this.metaPuts = 0
  }

  async load<T> (key: Key, codec: NodeCodec<T>): Promise<T> {
    const id = `${codec.name}:${toHex(key)}`
    if (this.decoded.has(id)) return this.decoded.get(id) as T
    const value = codec.decode(this.raw(key), codec.name)
    this.decoded.set(id, value)
    return value
  }

  async save<T> (value: T, codec: NodeCodec<T>): Promise<Key> {
    this.metaPuts++
    return this.add(codec.encode(value))
  }

  async getData (key: Key): Promise<Uint8Array> {
    return this.raw(key)
  }

  async putData (bytes: Uint8Array): Promise<Key> {
    this.dataPuts++
    return this.add(bytes.slice())
  }

  private add (bytes: Uint8Array): Key {
    const key = hashKey(bytes)
    this.blocks.set(toHex(key), bytes)
    this.written.add(toHex(key))
    return key
  }

  private raw (key: Key): Uint8Array {
    const bytes = this.blocks.get(toHex(key))
    if (bytes === undefined) throw new Error(`missing block ${toHex(key)}`)
    return bytes
  }
}

/** Collects an async iterable. */
export async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** The whole tree as path -> attributes and contents (files as hex), for comparisons. */
export async function dumpFs (fs: FileSystem): Promise<Dump> {
  const out: Dump = {}
  const visit = async (path: string): Promise<void> => {
    const st = await fs.stat(path === '' ? '/' : path)
    const entry: Dump[string] = { type: st.type, mode: st.mode, size: st.size, nlink: st.nlink, mtimeMs: nsToMs(st.mtimeNs), ctimeMs: nsToMs(st.ctimeNs) }
    if (st.type === 'file') entry.content = Buffer.from(await fs.read(path, 0, st.size + 1)).toString('hex')
    if (st.type === 'symlink') entry.content = await fs.readlink(path)
    out[path === '' ? '/' : path] = entry
    if (st.type === 'dir') for await (const e of fs.readdir(path === '' ? '/' : path)) await visit(`${path}/${e.name}`)
  }
  await visit('')
  return out
}
