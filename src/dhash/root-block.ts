import { Packr } from 'msgpackr'
import { BlockInvalidError, hashKey, keysEqual, shortHex, type Key } from '../core/index.js'
import { MAX_BLOCK_BYTES, checkBlockSize } from './block.js'
import { publicKeyOf, signMessage, verifySignature } from './ed25519.js'

export { generateSecretKey, publicKeyOf } from './ed25519.js'

export const ROOT_FORMAT_VERSION = 1
const ROOT_KEY_DOMAIN = 'cfs-root-v1'
const ROOT_SIGNATURE_DOMAIN = 'cfs-root-sig-v1'
export const PUBLIC_KEY_BYTES = 32
export const SECRET_KEY_BYTES = 32
const SIGNATURE_BYTES = 64
/** Sequence numbers stay exact in a JS number and in MessagePack. */
export const MAX_ROOT_SEQ = Number.MAX_SAFE_INTEGER

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number', copyBuffers: true })

/** A signed root block, decoded and verified. */
export interface RootBlock {
  readonly publicKey: Uint8Array
  readonly seq: number
  readonly payload: Uint8Array
  readonly signature: Uint8Array
}

/**
 * A root's key: domain-separated so no content block (key = BLAKE3(bytes)) can ever sit at
 * the key of someone's root.
 */
export function rootKey (publicKey: Uint8Array): Key {
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new RangeError(`an ed25519 public key is ${PUBLIC_KEY_BYTES} bytes`)
  return hashKey(ROOT_KEY_DOMAIN, publicKey)
}

/** What the owner signs: domain, public key, sequence number (u64 big-endian), payload. */
function signedMessage (publicKey: Uint8Array, seq: number, payload: Uint8Array): Uint8Array {
  const seqBytes = Buffer.alloc(8)
  seqBytes.writeBigUInt64BE(BigInt(seq))
  return Buffer.concat([Buffer.from(ROOT_SIGNATURE_DOMAIN), publicKey, seqBytes, payload])
}

/** Signs and encodes a root block: msgpack [version, publicKey, seq, payload, signature]. */
export function encodeRoot (secretKey: Uint8Array, seq: number, payload: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError('a root sequence number is a positive safe integer')
  const publicKey = publicKeyOf(secretKey)
  const signature = signMessage(secretKey, signedMessage(publicKey, seq, payload))
  const bytes = packr.pack([ROOT_FORMAT_VERSION, publicKey, seq, payload, signature]) as Uint8Array
  if (bytes.length > MAX_BLOCK_BYTES) throw new RangeError(`root payload too large (${payload.length} bytes)`)
  return bytes
}

/**
 * Decodes a root block and checks everything a reader or a storing node must: the format,
 * that the public key hashes to `key`, and the signature. Throws BlockInvalidError.
 */
export function decodeRoot (key: Key, bytes: Uint8Array): RootBlock {
  checkBlockSize(bytes)
  let fields: unknown
  try {
    fields = packr.unpack(bytes)
  } catch {
    throw new BlockInvalidError(`root ${shortHex(key)} is not decodable`)
  }
  if (!Array.isArray(fields) || fields.length !== 5) throw new BlockInvalidError(`root ${shortHex(key)}: not a root block`)
  const [version, publicKey, seq, payload, signature] = fields as unknown[]
  if (version !== ROOT_FORMAT_VERSION) throw new BlockInvalidError(`root ${shortHex(key)}: unknown format version ${String(version)}`)
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES ||
    !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES ||
    typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    throw new BlockInvalidError(`root ${shortHex(key)}: malformed fields`)
  }
  if (!keysEqual(rootKey(publicKey), key)) throw new BlockInvalidError(`root ${shortHex(key)}: public key does not hash to the key`)
  if (!verifySignature(publicKey, signedMessage(publicKey, seq, payload), signature)) throw new BlockInvalidError(`root ${shortHex(key)}: bad signature`)
  return { publicKey, seq, payload, signature }
}
