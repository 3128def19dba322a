/**
 * A BigInt reference model of the identifier ring (integers mod 2^256), written independently
 * of src/core/key.ts so the unit tests compare the byte/hex implementation against plain
 * arithmetic. Not a test file: imported by the unit tests only.
 */
import fc from 'fast-check'
import { asKey, type Key } from '../../src/core/key.js'

export const BITS = 256
export const RING = 1n << BigInt(BITS)

export function mod (n: bigint): bigint {
  return ((n % RING) + RING) % RING
}

/** Big-endian bytes -> integer (via Node's hex encoder, not src/core/key.ts). */
export function toBig (bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n
  return BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'))
}

/** Integer (reduced mod 2^256) -> 32 big-endian bytes. */
export function fromBig (n: bigint): Key {
  let v = mod(n)
  const out = new Uint8Array(BITS / 8)
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return asKey(out)
}

/** Clockwise distance from a to b. */
export function cw (a: bigint, b: bigint): bigint {
  return mod(b - a)
}

/**
 * x in (a, b) — or (a, b] with `inclusiveEnd` — going clockwise from a. When a == b the open
 * interval is the whole ring but a and the half-open one is the whole ring.
 */
export function refBetween (x: bigint, a: bigint, b: bigint, inclusiveEnd: boolean): boolean {
  const dx = cw(a, x)
  const db = cw(a, b)
  if (db === 0n) return inclusiveEnd || dx !== 0n
  return dx > 0n && (inclusiveEnd ? dx <= db : dx < db)
}

/** The first id at or after `key` clockwise (the key's successor) in an ascending list of ids. */
export function refSuccessor (sortedIds: readonly bigint[], key: bigint): bigint {
  const found = sortedIds.find((id) => id >= key) ?? sortedIds[0]
  if (found === undefined) throw new RangeError('empty ring')
  return found
}

/** Points where ring code tends to break: 0, the wrap, the midpoint and their neighbours. */
export const SPECIAL_POINTS: readonly bigint[] = [
  0n, 1n, 2n, RING / 2n - 1n, RING / 2n, RING / 2n + 1n, RING - 2n, RING - 1n,
]

/** A ring point: uniform, or one of the special points. */
export const pointArb: fc.Arbitrary<bigint> = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: RING - 1n }), weight: 3 },
  { arbitrary: fc.constantFrom(...SPECIAL_POINTS), weight: 1 },
)

/**
 * Three ring points (x, a, b). Half the time they are independent; half the time they sit within
 * ±2 of one base point (often across the wrap), so equal and adjacent keys are common.
 */
export const tripleArb: fc.Arbitrary<[bigint, bigint, bigint]> = fc.oneof(
  fc.tuple(pointArb, pointArb, pointArb),
  fc.tuple(pointArb, fc.integer({ min: -2, max: 2 }), fc.integer({ min: -2, max: 2 }), fc.integer({ min: -2, max: 2 }))
    .map(([base, dx, da, db]): [bigint, bigint, bigint] => [mod(base + BigInt(dx)), mod(base + BigInt(da)), mod(base + BigInt(db))]),
)

/** Deterministic fast-check settings shared by the unit properties. */
export const FC = { seed: 42, numRuns: 200 } as const
