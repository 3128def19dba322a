import fc from 'fast-check'
import * as ed from '@noble/ed25519'
import { describe, expect, it } from 'vitest'
import { generateSecretKey, publicKeyOf, signMessage, verifySignature } from '../../../src/dhash/ed25519.js'

const FC = { seed: 7, numRuns: 200 } as const
const secretKey = fc.uint8Array({ minLength: 32, maxLength: 32 })
const message = fc.uint8Array({ maxLength: 600 })

// node:crypto (OpenSSL) signs and verifies; @noble/ed25519 is the independent reference.
describe('ed25519 through node:crypto', () => {
  it('derives the same public key and the same (deterministic) signature as @noble/ed25519', () => {
    fc.assert(fc.property(secretKey, message, (sk, msg) => {
      expect(publicKeyOf(sk)).toEqual(ed.getPublicKey(sk))
      expect(signMessage(sk, msg)).toEqual(ed.sign(msg, sk))
    }), FC)
  })

  it('accepts what the other implementation signed, and both refuse any flipped bit', () => {
    fc.assert(fc.property(secretKey, message, fc.nat(), (sk, msg, at) => {
      const pk = publicKeyOf(sk)
      const sig = ed.sign(msg, sk)
      expect(verifySignature(pk, msg, sig)).toBe(true)
      expect(ed.verify(signMessage(sk, msg), msg, pk)).toBe(true)
      const bad = new Uint8Array(sig)
      bad[at % 64] = (bad[at % 64] as number) ^ (1 << (at % 8))
      expect(verifySignature(pk, msg, bad)).toBe(false)
      expect(ed.verify(bad, msg, pk)).toBe(false)
      if (msg.length > 0) {
        const other = new Uint8Array(msg)
        other[at % msg.length] = (other[at % msg.length] as number) ^ 0x80
        expect(verifySignature(pk, other, sig)).toBe(false)
      }
    }), FC)
  })

  it('answers false, never throws, for malformed keys and signatures', () => {
    const sk = generateSecretKey()
    const msg = new Uint8Array([1, 2, 3])
    const sig = signMessage(sk, msg)
    expect(verifySignature(publicKeyOf(generateSecretKey()), msg, sig)).toBe(false) // another key
    expect(verifySignature(new Uint8Array(31), msg, sig)).toBe(false)
    expect(verifySignature(publicKeyOf(sk), msg, sig.subarray(0, 63))).toBe(false)
    expect(verifySignature(new Uint8Array(32).fill(0xff), msg, sig)).toBe(false) // not a curve point
  })

  it('does not mistake a secret key array refilled with another key', () => {
    const sk = generateSecretKey()
    const first = publicKeyOf(sk)
    const other = generateSecretKey()
    sk.set(other)
    expect(publicKeyOf(sk)).toEqual(ed.getPublicKey(other))
    expect(publicKeyOf(sk)).not.toEqual(first)
  })
})
