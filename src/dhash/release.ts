import { blake3, type Key } from '../core/index.js'
import { verifySignature } from './ed25519.js'

/**
 * An owner's early release of blocks (dhash.release): its deleted files' blocks, that no
 * version it keeps reaches any more, leave the ring now instead of when their leases end, so a
 * full ring has room again. Signed by the owner's key over
 * `"cfs-release-1" ‖ owner (32) ‖ time (float64 BE, ms) ‖ leaseMs (float64 BE) ‖ BLAKE3(keys)`.
 *
 * A holder drops a key only if its copy is a content block accounted to that owner (a block
 * another owner put too is shared and stays) whose lease ends by `time + leaseMs`: a block put
 * or refreshed after the release was signed has a later lease end, so a replayed release cannot
 * drop a block the owner has put again since. A release older or newer than
 * MAX_RELEASE_SKEW_MS is refused.
 */
export const RELEASE_DOMAIN = new TextEncoder().encode('cfs-release-1')
export const MAX_RELEASE_SKEW_MS = 10 * 60_000

export interface ReleaseGrant {
  /** The owner's public key (32 bytes). */
  readonly owner: Uint8Array
  /** When it was signed, ms since the epoch. */
  readonly time: number
  /** The lease the owner puts and refreshes with: copies whose lease ends after time + leaseMs are kept. */
  readonly leaseMs: number
  readonly sig: Uint8Array
}

export function releaseMessage (owner: Uint8Array, time: number, leaseMs: number, keys: readonly Key[]): Uint8Array {
  const head = new Uint8Array(RELEASE_DOMAIN.length + 32 + 16)
  head.set(RELEASE_DOMAIN, 0)
  head.set(owner, RELEASE_DOMAIN.length)
  const view = new DataView(head.buffer)
  view.setFloat64(RELEASE_DOMAIN.length + 32, time)
  view.setFloat64(RELEASE_DOMAIN.length + 40, leaseMs)
  return Buffer.concat([head, blake3(Buffer.concat(keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength))))])
}

/** Whether the grant is the owner's signature over these keys, signed within the allowed skew of `now`. */
export function checkRelease (grant: ReleaseGrant, keys: readonly Key[], now: number): string | undefined {
  if (grant.owner.length !== 32) return 'an owner is a 32-byte public key'
  if (Math.abs(now - grant.time) > MAX_RELEASE_SKEW_MS) return `signed at ${new Date(grant.time).toISOString()}, more than ${MAX_RELEASE_SKEW_MS / 60_000} minutes from now`
  if (!verifySignature(grant.owner, releaseMessage(grant.owner, grant.time, grant.leaseMs, keys), grant.sig)) return 'the signature does not match the owner and keys'
  return undefined
}
