import { BlockInvalidError, BlockTooLargeError, hashKey, keysEqual, shortHex, type Key } from '../core/index.js'

/**
 * The two kinds of block (docs/PROTOCOL.md#blocks). Numeric on the wire and in the store.
 * - CONTENT: immutable; key = BLAKE3-256(bytes).
 * - ROOT: mutable, one per owner; key = BLAKE3-256("cfs-root-v1" || public key), signed.
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

/**
 * The key of a content block: BLAKE3-256 of its bytes (core/blake3.ts: ~4 GB/s for 1 MiB here,
 * 12x node:crypto's SHA-256 on this machine without SHA extensions).
 */
export function contentKey (bytes: Uint8Array): Key {
  return hashKey(bytes)
}

/** Throws BlockInvalidError unless `bytes` hash to `key`. */
export function verifyContentBlock (key: Key, bytes: Uint8Array): void {
  checkBlockSize(bytes)
  if (!keysEqual(contentKey(bytes), key)) throw new BlockInvalidError(`content of ${shortHex(key)} does not hash to its key`)
}
