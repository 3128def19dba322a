import { BlockInvalidError, BlockTooLargeError, hashKey, keysEqual, shortHex, type Key } from '../core/index.js'

/**
 * The two kinds of block (docs/PROTOCOL.md#blocks). Numeric on the wire and in the store.
 * - CONTENT: immutable; key = SHA-256(bytes).
 * - ROOT: mutable, one per owner; key = SHA-256("cfs-root-v1" || public key), signed.
 */
export const BlockKind = { CONTENT: 0, ROOT: 1 } as const
export type BlockKind = typeof BlockKind[keyof typeof BlockKind]

export function isBlockKind (value: unknown): value is BlockKind {
  return value === BlockKind.CONTENT || value === BlockKind.ROOT
}

/** Largest block a node stores or serves. Frames carry a block plus a little framing. */
export const MAX_BLOCK_BYTES = 1024 * 1024

export function checkBlockSize (bytes: Uint8Array): void {
  if (bytes.length > MAX_BLOCK_BYTES) {
    throw new BlockTooLargeError(`a block is at most ${MAX_BLOCK_BYTES} bytes, got ${bytes.length}`)
  }
}

/** The key of a content block: SHA-256 of its bytes (node:crypto: 150-240 MB/s on this machine, which has no SHA extensions). */
export function contentKey (bytes: Uint8Array): Key {
  return hashKey(bytes)
}

/** Throws BlockInvalidError unless `bytes` hash to `key`. */
export function verifyContentBlock (key: Key, bytes: Uint8Array): void {
  checkBlockSize(bytes)
  if (!keysEqual(contentKey(bytes), key)) throw new BlockInvalidError(`content of ${shortHex(key)} does not hash to its key`)
}
