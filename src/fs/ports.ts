import type { Key } from '../core/index.js'
import type { RootBlock } from '../dhash/index.js'

/**
 * Signs root blocks for one key pair: dhash's `encodeRoot` bound to a secret key by the
 * composition root (fs imports dhash types only, and never holds the secret key itself).
 */
export interface RootSigner {
  readonly publicKey: Uint8Array
  /** The root block for `seq` carrying `payload`, signed. */
  sign: (seq: number, payload: Uint8Array) => Uint8Array
  /** An Ed25519 signature of `message` (the block layer's release requests). Absent: the volume never releases blocks early. */
  signMessage?: (message: Uint8Array) => Uint8Array
}

/** Checks root blocks: dhash's `rootKey` and `decodeRoot`. */
export interface RootVerifier {
  rootKey: (publicKey: Uint8Array) => Key
  /** Throws BlockInvalidError unless the block is well formed, signed, and at `key`. */
  decodeRoot: (key: Key, bytes: Uint8Array) => RootBlock
}
