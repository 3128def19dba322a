import { z } from 'zod'
import { BadRequestError, KEY_BYTES, hashKey, keysEqual, shortHex, toHex, type Key } from '../core/index.js'

/**
 * A node on the ring: a virtual node `vnode` of the endpoint at `address`. Its id is derived,
 * never chosen: id = BLAKE3("cfs-node:" + address + "/" + vnode). Anyone holding a NodeRef can
 * check the id against the address it will be reached at.
 */
export interface NodeRef {
  readonly id: Key
  /** The id in hex: map keys and cheap equality. */
  readonly hex: string
  readonly address: string
  readonly vnode: number
  /**
   * The pin: the endpoint's identity key (Ed25519 public key, 32 bytes), which a link to it
   * must prove (`RequestOptions.peerKey`). Every vnode of an endpoint has the same. Undefined
   * when not known: an address an operator gave, or an endpoint that authenticates nobody.
   */
  readonly key?: Uint8Array
}

/** Bytes of an identity key (an Ed25519 public key). */
export const NODE_KEY_BYTES = 32

export const MAX_VNODES = 1024

export function nodeIdFor (address: string, vnode: number): Key {
  return hashKey(`cfs-node:${address}/${vnode}`)
}

/**
 * Verified refs, interned by address and then vnode: a ref seen before costs a byte comparison,
 * not a hash, and equal nodes share one object. Two levels rather than one "address/vnode"
 * key, because building that string for every ref received showed in ring-build profiles, as
 * did LRU bookkeeping: this is a plain Map that drops the oldest address first once it holds
 * MAX_INTERNED refs, and a ref dropped early only costs one more hash when it comes back.
 *
 * Each address has one key, that of the last record that named one: a ref made with another
 * key replaces every ref of the address (a node re-installed at the same address has a new
 * key; refs already handed out keep the old one and fail their pin). A ref made without a key
 * takes the address's known key, so a record that omits the pin never unpins a node.
 */
interface Endpoint { readonly key: Uint8Array | undefined, readonly refs: Map<number, NodeRef> }
const interned = new Map<string, Endpoint>()
const MAX_INTERNED = 100_000
let internedCount = 0

function sameKey (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && keysEqual(a, b))
}

function refOf (id: Key, hex: string, address: string, vnode: number, key: Uint8Array | undefined): NodeRef {
  return key === undefined ? { id, hex, address, vnode } : { id, hex, address, vnode, key }
}

/** The ref of vnode `vnode` at `address`, pinned to `key` (or to the address's known key). */
export function makeNodeRef (address: string, vnode = 0, key?: Uint8Array): NodeRef {
  let endpoint = interned.get(address)
  // A key kept is a copy of its own: one from the wire may be a Buffer over a whole frame.
  if (key !== undefined && (endpoint === undefined || !sameKey(endpoint.key, key))) key = new Uint8Array(key)
  if (endpoint !== undefined && key !== undefined && !sameKey(endpoint.key, key)) {
    // Another key for this address: its refs are made again with it (their ids kept).
    const refs = new Map<number, NodeRef>()
    for (const [v, r] of endpoint.refs) refs.set(v, refOf(r.id, r.hex, address, v, key))
    endpoint = { key, refs }
    interned.set(address, endpoint)
  }
  let ref = endpoint?.refs.get(vnode)
  if (ref === undefined) {
    const id = nodeIdFor(address, vnode)
    ref = refOf(id, toHex(id), address, vnode, key ?? endpoint?.key)
    while (internedCount >= MAX_INTERNED) {
      const [oldest, dropped] = interned.entries().next().value as [string, Endpoint]
      interned.delete(oldest)
      internedCount -= dropped.refs.size
    }
    if (endpoint === undefined || !interned.has(address)) {
      endpoint = { key: ref.key, refs: new Map() }
      interned.set(address, endpoint)
    }
    endpoint.refs.set(vnode, ref)
    internedCount++
  }
  return ref
}

export function sameNode (a: NodeRef | undefined, b: NodeRef | undefined): boolean {
  return a !== undefined && b !== undefined && (a === b || a.hex === b.hex)
}

export function describeNode (n: NodeRef | undefined): string {
  return n === undefined ? '-' : `${shortHex(n.id)}@${n.address}/${n.vnode}`
}

/** Wire form: { id: bytes(32), addr: "host:port", v: vnode, k?: bytes(32) (the pin) }. */
export const keySchema = z.custom<Key>((b) => b instanceof Uint8Array && b.length === KEY_BYTES, 'a key is 32 bytes')
export const addressSchema = z.string().min(3).max(262).regex(/^[^\s/]+:\d{1,5}$/, 'address is host:port')
  .refine((a) => Number(a.slice(a.lastIndexOf(':') + 1)) <= 65535, 'port out of range')
export const nodeKeySchema = z.custom<Uint8Array>((b) => b instanceof Uint8Array && b.length === NODE_KEY_BYTES, 'a node key is 32 bytes')
export const nodeRefSchema = z.object({
  id: keySchema, addr: addressSchema, v: z.number().int().min(0).max(MAX_VNODES - 1), k: nodeKeySchema.optional(),
})
export type NodeRefWire = z.infer<typeof nodeRefSchema>

export function toWire (n: NodeRef): NodeRefWire {
  return n.key === undefined ? { id: n.id, addr: n.address, v: n.vnode } : { id: n.id, addr: n.address, v: n.vnode, k: n.key }
}

/**
 * Parses a wire NodeRef and checks that its id is the one its address and vnode derive. The
 * pin `k` is kept as given (makeNodeRef): only a link can prove it.
 */
export function fromWire (w: NodeRefWire): NodeRef {
  // The id is checked before the pin is interned: a forged record must not re-pin an address.
  const ref = makeNodeRef(w.addr, w.v)
  if (!keysEqual(ref.id, w.id)) throw new BadRequestError(`node id does not match ${w.addr}/${w.v}`)
  return w.k === undefined ? ref : makeNodeRef(w.addr, w.v, w.k)
}
