import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'

/** DER prefixes that wrap a raw 32-byte Ed25519 key as PKCS#8 (secret) or SPKI (public) for OpenSSL (RFC 8410). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** An OpenSSL key object for a raw 32-byte Ed25519 secret key (seed). */
export function ed25519SecretKeyObject (secretKey: Uint8Array): KeyObject {
  if (secretKey.length !== 32) throw new RangeError('an ed25519 secret key is 32 bytes')
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' })
}

/** An OpenSSL key object for a raw 32-byte Ed25519 public key. */
export function ed25519PublicKeyObject (publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
}

/** The raw 32 bytes of an Ed25519 key object (public, or the public half of a secret one); undefined for any other kind of key. */
export function rawEd25519PublicKey (key: KeyObject): Uint8Array | undefined {
  if (key.asymmetricKeyType !== 'ed25519') return undefined
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' })
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length))
}
