import { createHash, sign, verify, type KeyObject } from 'node:crypto'
import * as ed from '@noble/ed25519'
import { LRUCache } from 'lru-cache'
import { ed25519PublicKeyObject, ed25519SecretKeyObject } from '../core/index.js'

// Signing and verifying go through node:crypto (OpenSSL): ~0.1 ms to sign and ~0.2 ms to
// verify here, against ~1-4 ms and ~4-8 ms for @noble/ed25519's pure-JS curve arithmetic, and
// every root put is verified by the primary and each replica, every root get by the reader.
// Keys are made and derived with @noble/ed25519 (a one-off per key), and tests check the two
// implementations agree on every signature.

// noble needs a SHA-512 to derive keys; node:crypto's is native.
ed.hashes.sha512 = (message: Uint8Array) => new Uint8Array(createHash('sha512').update(message).digest())

/** Secret keys in use by this process (a volume signs with one key for its whole life). */
const secretKeys = new WeakMap<Uint8Array, { key: KeyObject, publicKey: Uint8Array, bytes: Buffer }>()
/** Public keys recently verified against: a node sees the same few owners again and again. */
const publicKeys = new LRUCache<string, KeyObject>({ max: 4096 })

export function generateSecretKey (): Uint8Array {
  return ed.utils.randomSecretKey()
}

export function publicKeyOf (secretKey: Uint8Array): Uint8Array {
  return secretKeyObject(secretKey).publicKey
}

/** An RFC 8032 Ed25519 signature (64 bytes) of `message`. */
export function signMessage (secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, secretKeyObject(secretKey).key))
}

/** Whether `signature` is a valid signature of `message` by `publicKey`; false for malformed keys. */
export function verifySignature (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false // not a point on the curve, or a signature of the wrong length
  }
}

function secretKeyObject (secretKey: Uint8Array): { key: KeyObject, publicKey: Uint8Array } {
  let entry = secretKeys.get(secretKey)
  // Cached by identity, checked by value: an array refilled with another key is not mistaken.
  if (entry === undefined || !entry.bytes.equals(secretKey)) {
    entry = {
      key: ed25519SecretKeyObject(secretKey),
      publicKey: ed.getPublicKey(secretKey),
      bytes: Buffer.from(secretKey),
    }
    secretKeys.set(secretKey, entry)
  }
  return entry
}

function publicKeyObject (publicKey: Uint8Array): KeyObject {
  const hex = Buffer.from(publicKey).toString('hex')
  let key = publicKeys.get(hex)
  if (key === undefined) {
    key = ed25519PublicKeyObject(publicKey)
    publicKeys.set(hex, key)
  }
  return key
}
