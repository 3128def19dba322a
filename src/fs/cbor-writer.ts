/**
 * A direct encoder for the values file-tree blocks are made of (maps with text keys, arrays,
 * safe integers, text, bytes, null, booleans), writing exactly the bytes cborg writes with
 * `rfc8949EncodeOptions` (test/unit/fs/cbor-writer.test.ts checks that on random values).
 *
 * Why not cborg alone: cborg turns a value into tokens, sorts map entries by encoding each
 * key, then writes the tokens. Every change to a tree re-encodes a directory node of up to a
 * few hundred entries and several inodes, and that pipeline was about an eighth of the
 * mount's CPU when creating small files. cborg stays the decoder and the fallback: anything
 * else (a float, a bigint, undefined, -0, a class instance) is handed to it whole.
 */

/** Thrown inside the writer when a value is not one it writes; the caller falls back to cborg. */
class NotPlain extends Error {}

/**
 * The encoding of one value, written again as it is: a part that did not change since it was
 * last encoded (a directory entry in a node that is rewritten for another entry). Only the
 * writer knows it; a value holding one never falls back to cborg.
 */
export class CborRaw {
  constructor (readonly bytes: Uint8Array) {}
}

const textEncoder = new TextEncoder()

export class CborWriter {
  private buf = Buffer.allocUnsafe(1024)
  private pos = 0
  private readonly keyCache = new Map<string, Uint8Array>()

  /** The encoding of `value`, or undefined if it holds something this writer leaves to cborg. */
  encode (value: unknown): Uint8Array | undefined {
    this.pos = 0
    try {
      this.value(value)
    } catch (err) {
      if (err instanceof NotPlain) return undefined
      throw err
    }
    // A copy, not a view of the reused buffer; a plain Uint8Array (slice() of a Buffer would
    // build a Buffer through its species constructor, which cost more than the copy).
    const out = new Uint8Array(this.pos)
    out.set(new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos))
    return out
  }

  private reserve (n: number): void {
    if (this.pos + n <= this.buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(grown, 0, 0, this.pos)
    this.buf = grown
  }

  /** A major type with its argument, in the shortest form (RFC 8949 4.2.1). */
  private head (major: number, n: number): void {
    this.reserve(9)
    const b = this.buf
    const m = major << 5
    if (n < 24) {
      b[this.pos++] = m | n
    } else if (n < 0x100) {
      b[this.pos++] = m | 24
      b[this.pos++] = n
    } else if (n < 0x10000) {
      b[this.pos++] = m | 25
      b[this.pos++] = n >>> 8
      b[this.pos++] = n & 0xff
    } else if (n < 0x1_0000_0000) {
      b[this.pos++] = m | 26
      b[this.pos++] = n >>> 24
      b[this.pos++] = (n >>> 16) & 0xff
      b[this.pos++] = (n >>> 8) & 0xff
      b[this.pos++] = n & 0xff
    } else {
      b[this.pos++] = m | 27
      const hi = Math.floor(n / 0x1_0000_0000)
      const lo = n >>> 0
      b[this.pos++] = hi >>> 24
      b[this.pos++] = (hi >>> 16) & 0xff
      b[this.pos++] = (hi >>> 8) & 0xff
      b[this.pos++] = hi & 0xff
      b[this.pos++] = lo >>> 24
      b[this.pos++] = (lo >>> 16) & 0xff
      b[this.pos++] = (lo >>> 8) & 0xff
      b[this.pos++] = lo & 0xff
    }
  }

  private bytes (major: number, data: Uint8Array): void {
    this.head(major, data.length)
    this.reserve(data.length)
    this.buf.set(data, this.pos)
    this.pos += data.length
  }

  private value (v: unknown): void {
    if (v === null) {
      this.reserve(1)
      this.buf[this.pos++] = 0xf6
    } else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || Object.is(v, -0)) throw new NotPlain()
      if (v >= 0) this.head(0, v)
      else this.head(1, -1 - v)
    } else if (typeof v === 'string') {
      const n = Buffer.byteLength(v, 'utf8')
      this.head(3, n)
      this.reserve(n)
      this.pos += this.buf.write(v, this.pos, n, 'utf8')
    } else if (v instanceof Uint8Array) {
      this.bytes(2, v)
    } else if (Array.isArray(v)) {
      this.head(4, v.length)
      for (const item of v) this.value(item)
    } else if (typeof v === 'boolean') {
      this.reserve(1)
      this.buf[this.pos++] = v ? 0xf5 : 0xf4
    } else if (typeof v === 'object' && isPlainObject(v)) {
      this.map(v as Record<string, unknown>)
    } else if (v instanceof CborRaw) {
      this.reserve(v.bytes.length)
      this.buf.set(v.bytes, this.pos)
      this.pos += v.bytes.length
    } else {
      throw new NotPlain()
    }
  }

  /** A map, its entries ordered by the bytes of their encoded keys (what cborg's rfc8949MapSorter does). */
  private map (m: Record<string, unknown>): void {
    const keys = Object.keys(m)
    const encoded = keys.map((k) => this.key(k))
    const order = keys.map((_, i) => i).sort((a, b) => compareBytes(encoded[a] as Uint8Array, encoded[b] as Uint8Array))
    this.head(5, keys.length)
    for (const i of order) {
      const k = encoded[i] as Uint8Array
      this.reserve(k.length)
      this.buf.set(k, this.pos)
      this.pos += k.length
      const value = m[keys[i] as string]
      if (value === undefined) throw new NotPlain()
      this.value(value)
    }
  }

  /** A map key's encoding; the few field names of the formats are kept. */
  private key (k: string): Uint8Array {
    let e = this.keyCache.get(k)
    if (e === undefined) {
      const utf8 = textEncoder.encode(k)
      const w = new CborWriter()
      w.bytes(3, utf8)
      e = Uint8Array.prototype.slice.call(w.buf, 0, w.pos)
      if (this.keyCache.size < 256) this.keyCache.set(k, e)
    }
    return e
  }
}

function isPlainObject (v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return a.length - b.length
}
