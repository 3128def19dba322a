import type { AbortOptions, Startable } from '../core/index.js'

/** Who sent a request, as the transport saw it. */
export interface RequestContext {
  /** The peer's address as seen by the transport (for TCP, ip:port of the socket). */
  readonly remoteAddress: string
  /** Aborted when the connection closes or the transport stops. */
  readonly signal: AbortSignal
  /**
   * The peer's identity, proven by the link's handshake: its Ed25519 public key (32 bytes).
   * Undefined where the link authenticates nobody (a plaintext TCP transport, a memory endpoint
   * made without a key).
   */
  readonly peerKey?: Uint8Array
}

/** Serves one method. The body is untrusted: validate before use. Throw a CfsError to fail. */
export type RequestHandler = (body: unknown, context: RequestContext) => Promise<unknown>

export interface RequestOptions extends AbortOptions {
  /** Deadline for this call. @default the transport's rpcTimeoutMs */
  timeoutMs?: number
  /**
   * The identity the peer must prove: the key pinned in its ring record. A peer that presents
   * another key is refused (NodeUnreachableError, logged) and never sees the request. Unset,
   * any key is taken (the first contact with an address given by the operator). Ignored where
   * the link authenticates nobody.
   */
  peerKey?: Uint8Array
}

/**
 * Request/response messaging between endpoints named by address strings ("host:port").
 * Every layer above speaks through this, so the memory and TCP implementations are swappable.
 */
export interface Transport extends Startable {
  /** This endpoint's address; valid after start(). */
  readonly address: string
  /**
   * This endpoint's identity key (Ed25519 public key) that peers see in the handshake, to be
   * pinned in its ring record; undefined where the link authenticates nobody. Valid after start().
   */
  readonly publicKey: Uint8Array | undefined
  /** Registers the handler for a method; one handler per method. */
  handle: (method: string, handler: RequestHandler) => void
  unhandle: (method: string) => void
  /**
   * Sends a request and resolves with the response body. Rejects with NodeUnreachableError,
   * TimeoutError, AbortError, or the error the status maps to (net/protocol.ts).
   */
  request: (address: string, method: string, body: unknown, options?: RequestOptions) => Promise<unknown>
}

/** Largest frame a transport sends or accepts, unless told otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024
/** Deadline of a request that has none of its own, unless the transport is told otherwise. */
export const DEFAULT_RPC_TIMEOUT_MS = 5_000
