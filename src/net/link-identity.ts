// @peculiar/x509 resolves its ASN.1 serializers through tsyringe, which needs the Reflect
// metadata API loaded first.
import 'reflect-metadata'
import { randomBytes, webcrypto, type X509Certificate } from 'node:crypto'
import { X509CertificateGenerator } from '@peculiar/x509'
import { ed25519SecretKeyObject, rawEd25519PublicKey } from '../core/index.js'

/**
 * Who an endpoint is on a TLS link: its Ed25519 identity key and a self-signed certificate of
 * it. The certificate is only the TLS way of presenting the key: peers check the key against
 * the pin in the endpoint's ring record, never a name, an issuer or the validity dates.
 */
export interface LinkIdentity {
  /** The raw 32-byte Ed25519 public key: the pin peers check. */
  readonly publicKey: Uint8Array
  /** The secret key (PKCS#8 PEM), for the TLS handshake's signature. */
  readonly key: string
  /** The self-signed certificate (PEM) carrying the public key. */
  readonly cert: string
}

const ED25519 = { name: 'Ed25519' }

/**
 * The link identity of a 32-byte Ed25519 secret key (a node's `identity.key`), or of a fresh
 * one: a client without a data directory is a new identity each run.
 */
export async function makeLinkIdentity (secretKey: Uint8Array = randomBytes(32)): Promise<LinkIdentity> {
  const key = ed25519SecretKeyObject(secretKey)
  const publicKey = rawEd25519PublicKey(key) as Uint8Array
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), ED25519, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('raw', publicKey, ED25519, true, ['verify']),
  }
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=cfs ${Buffer.from(publicKey).toString('hex')}`,
    notBefore: new Date(Date.UTC(2000, 0, 1)),
    notAfter: new Date(Date.UTC(2999, 11, 31)),
    keys,
    signingAlgorithm: ED25519,
  }, webcrypto as Parameters<typeof X509CertificateGenerator.createSelfSigned>[1])
  return { publicKey, key: key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: cert.toString('pem') }
}

/** The Ed25519 key a peer's certificate carries; undefined when it sent none or another kind. */
export function linkPeerKey (cert: X509Certificate | undefined): Uint8Array | undefined {
  return cert === undefined ? undefined : rawEd25519PublicKey(cert.publicKey)
}
