import { toHex, type Key } from '../core/index.js'
import { BlockKind, verifyContentBlock } from './block.js'
import { decodeRoot } from './root-block.js'

/** What verification learns about a block: the owner and sequence number of a root. */
export interface VerifiedBlock {
  readonly kind: BlockKind
  /** Hex public key of a root's owner; '' for content blocks (they have no verifiable owner). */
  readonly owner: string
  /** A root's sequence number; 0 for content blocks. */
  readonly seq: number
}

/** Checks `bytes` against `key` for its kind; throws BlockInvalidError or BlockTooLargeError. */
export function verifyBlock (key: Key, kind: BlockKind, bytes: Uint8Array): VerifiedBlock {
  if (kind === BlockKind.CONTENT) {
    verifyContentBlock(key, bytes)
    return { kind, owner: '', seq: 0 }
  }
  const root = decodeRoot(key, bytes)
  return { kind, owner: toHex(root.publicKey), seq: root.seq }
}
