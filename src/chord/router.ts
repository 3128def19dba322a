import type { AbortOptions, Key } from '../core/index.js'
import type { LookupOptions, LookupResult } from './lookup.js'
import type { NodeRef } from './node-ref.js'

/** The keys a node is responsible for: (from, to]. `from` is undefined while the predecessor is unknown. */
export interface KeyRange { readonly from: Key | undefined, readonly to: Key }

/**
 * The port the block layer sees: lookups and the upcalls it registers. DHash never touches
 * the routing table, the transport or another vnode.
 */
export interface Router {
  readonly self: NodeRef
  lookup: (key: Key, options?: LookupOptions) => Promise<LookupResult>
  findSuccessor: (key: Key, options?: AbortOptions) => Promise<NodeRef>
  successors: () => readonly NodeRef[]
  predecessor: () => NodeRef | undefined
  isResponsible: (key: Key) => boolean
  /**
   * Whether `key` is the identity key pinned in the record of a node this vnode knows: its
   * predecessor list, successor list or fingers (or itself). The block layer lets only those
   * call its node-to-node methods.
   */
  knowsPeer: (key: Uint8Array) => boolean
  /** Upcall: the successor list changed. Returns the unsubscribe function. */
  onSuccessorsChanged: (listener: (succs: readonly NodeRef[]) => void) => () => void
  /** Upcall: the range of keys this node is responsible for changed (join, leave, failure). */
  onRangeChanged: (listener: (range: KeyRange) => void) => () => void
  /** Upcall: the node is about to leave gracefully; awaited before neighbours are told. */
  onLeaving: (handler: (successors: readonly NodeRef[], options: AbortOptions) => Promise<void>) => () => void
}
