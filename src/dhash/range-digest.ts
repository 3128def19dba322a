import { KEY_BITS, KEY_BYTES, betweenHex, bigIntToKey, distance, keyToBigInt, keysEqual, toHex, type Key } from '../core/index.js'
import { DIGEST_BUCKETS } from './messages.js'
import type { BlockStore, KeyInterval } from './store/block-store.js'

/**
 * Splits the arc (from, to] into `n` arcs of equal width; returns n + 1 boundaries, first
 * `from`, last `to`. from == to splits the whole ring.
 */
export function splitInterval (interval: KeyInterval, n = DIGEST_BUCKETS): Key[] {
  const from = keyToBigInt(interval.from)
  let width = distance(interval.from, interval.to)
  if (width === 0n) width = 1n << BigInt(KEY_BITS)
  const bounds: Key[] = []
  for (let i = 0; i <= n; i++) bounds.push(i === n ? interval.to : bigIntToKey(from + (width * BigInt(i)) / BigInt(n)))
  return bounds
}

/** Bucket summaries of the keys in an interval: [count, XOR of the keys] per sub-arc. */
export type RangeDigest = Array<[number, Key]>

/**
 * The digest two replicas compare: equal buckets are skipped, unequal ones are split again or
 * listed. XOR is a fine set summary here because keys are hashes a peer cannot choose freely
 * for content blocks; a collision only delays repair of that bucket, it never loses data.
 */
export async function digestInterval (store: BlockStore, interval: KeyInterval): Promise<RangeDigest> {
  const bounds = splitInterval(interval)
  const hexBounds = bounds.map(toHex)
  const from = hexBounds[0] as string
  const out: RangeDigest = Array.from({ length: DIGEST_BUCKETS }, () => [0, new Uint8Array(KEY_BYTES) as Key])
  let bucket = 0
  for await (const key of store.keys(interval)) {
    const hex = toHex(key)
    // Keys arrive in ring order from `from`: advance the bucket pointer, unwrapping past the top.
    while (bucket < DIGEST_BUCKETS - 1 && !betweenHex(hex, from, hexBounds[bucket + 1] as string, true)) bucket++
    const entry = out[bucket] as [number, Key]
    entry[0]++
    const acc = entry[1]
    for (let i = 0; i < KEY_BYTES; i++) acc[i] = (acc[i] as number) ^ (key[i] as number)
  }
  return out
}

export function sameBucket (a: [number, Key], b: [number, Key]): boolean {
  return a[0] === b[0] && keysEqual(a[1], b[1])
}
