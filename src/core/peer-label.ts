import { toHex } from './key.js'

/** The host part of "host:port" (IPv6 brackets kept): a machine, not one of its sockets. */
export function hostOf (address: string): string {
  const i = address.lastIndexOf(':')
  return i < 0 ? address : address.slice(0, i)
}

/**
 * A peer as log lines (and their LogThrottle subjects) name it: the identity its link proved,
 * else its host (a plaintext link's port is an ephemeral one).
 */
export function peerLabel (remoteAddress: string, peerKey: Uint8Array | undefined): string {
  return peerKey === undefined ? `host ${hostOf(remoteAddress)}` : `key ${toHex(peerKey).slice(0, 16)}`
}
