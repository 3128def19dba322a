import { blake3 } from './blake3.js'

/**
 * The identifier space: 256-bit integers on a ring, written big-endian in 32 bytes.
 * Node ids and block keys share it. The hash is BLAKE3-256 (blake3.ts).
 */
export const KEY_BYTES = 32
export const KEY_BITS = KEY_BYTES * 8
const RING = 1n << BigInt(KEY_BITS)

/** A point on the identifier ring. Branded so a random byte array cannot pass for one. */
export type Key = Uint8Array & { readonly __brand: 'Key' }

/** Checks the length and brands the bytes; throws RangeError on misuse. */
export function asKey (bytes: Uint8Array): Key {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
    throw new RangeError(`a key is ${KEY_BYTES} bytes, got ${bytes?.length}`)
  }
  return bytes as Key
}

export function isKey (value: unknown): value is Key {
  return value instanceof Uint8Array && value.length === KEY_BYTES
}

/** BLAKE3-256 of the parts, concatenated in order. Strings hash as UTF-8. */
export function hashKey (...parts: Array<Uint8Array | string>): Key {
  if (parts.length === 1 && typeof parts[0] !== 'string') return blake3(parts[0] as Uint8Array) as Key
  return blake3(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)))) as Key
}

export function compareKeys (a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

export function keysEqual (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/**
 * True when x lies on the ring interval from a to b, going clockwise. `(a, b)` by default,
 * `(a, b]` with `inclusiveEnd`. When a == b the open interval is the whole ring but a, and the
 * half-open one is the whole ring.
 */
export function between (x: Uint8Array, a: Uint8Array, b: Uint8Array, inclusiveEnd = false): boolean {
  return onArc(compareKeys(a, b), compareKeys(a, x), compareKeys(x, b), inclusiveEnd)
}

/**
 * `between` over lowercase hex ids of equal length, which order exactly as the bytes do.
 * String comparison stays in JS: on routing hot paths it is several times cheaper than
 * Buffer.compare, which crosses into native code per call.
 */
export function betweenHex (x: string, a: string, b: string, inclusiveEnd = false): boolean {
  return onArc(compareStrings(a, b), compareStrings(a, x), compareStrings(x, b), inclusiveEnd)
}

function compareStrings (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function onArc (ab: number, ax: number, xb: number, inclusiveEnd: boolean): boolean {
  if (xb === 0) return inclusiveEnd
  if (ab === 0) return ax !== 0
  if (ab < 0) return ax < 0 && xb < 0
  return ax < 0 || xb < 0
}

export function keyToBigInt (key: Uint8Array): bigint {
  return BigInt('0x' + toHex(key))
}

export function bigIntToKey (n: bigint): Key {
  const hex = ((n % RING + RING) % RING).toString(16).padStart(KEY_BYTES * 2, '0')
  return new Uint8Array(Buffer.from(hex, 'hex')) as Key
}

/**
 * Orders points (hex ids) that precede the target by closeness to it (closest first), without arithmetic:
 * a is closer than b when a lies in (b, target).
 */
export function closerTo (targetHex: string): (aHex: string, bHex: string) => number {
  return (a, b) => (a === b ? 0 : betweenHex(a, b, targetHex) ? -1 : 1)
}

/** Clockwise distance from a to b. */
export function distance (a: Uint8Array, b: Uint8Array): bigint {
  return ((keyToBigInt(b) - keyToBigInt(a)) % RING + RING) % RING
}

/**
 * a + 2^i mod 2^256: the start of finger i. Byte arithmetic with a carry rather than BigInt:
 * every node computes a dozen of these per finger rebuild, and the BigInt round trip through
 * hex was a visible part of building large simulated rings.
 */
export function addPowerOfTwo (key: Uint8Array, i: number): Key {
  if (!Number.isInteger(i) || i < 0 || i >= KEY_BITS) throw new RangeError(`bit index out of range: ${i}`)
  const out = Uint8Array.from(key)
  let carry = 1 << (i & 7)
  for (let byte = KEY_BYTES - 1 - (i >> 3); byte >= 0 && carry !== 0; byte--) {
    const sum = (out[byte] as number) + carry
    out[byte] = sum & 0xff
    carry = sum >> 8
  }
  return out as Key
}

/** The key just before `key` on the ring (key - 1 mod 2^256), by byte arithmetic. */
export function keyBefore (key: Uint8Array): Key {
  const out = Uint8Array.from(key)
  for (let i = out.length - 1; i >= 0; i--) {
    const b = out[i] as number
    out[i] = (b - 1) & 0xff
    if (b !== 0) break
  }
  return out as Key
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function keyFromHex (hex: string): Key {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new RangeError(`not a ${KEY_BYTES}-byte hex key: ${hex}`)
  return new Uint8Array(Buffer.from(hex, 'hex')) as Key
}

/** The first 8 hex digits: enough to tell nodes apart in logs. */
export function shortHex (bytes: Uint8Array): string {
  return toHex(bytes.subarray(0, 4))
}
