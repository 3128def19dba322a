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
}

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
 */
const interned = new Map<string, Map<number, NodeRef>>()
const MAX_INTERNED = 100_000
let internedCount = 0

export function makeNodeRef (address: string, vnode = 0): NodeRef {
  let byVnode = interned.get(address)
  let ref = byVnode?.get(vnode)
  if (ref === undefined) {
    const id = nodeIdFor(address, vnode)
    ref = { id, hex: toHex(id), address, vnode }
    while (internedCount >= MAX_INTERNED) {
      const [oldest, refs] = interned.entries().next().value as [string, Map<number, NodeRef>]
      interned.delete(oldest)
      internedCount -= refs.size
    }
    if (byVnode === undefined || !interned.has(address)) {
      byVnode = new Map()
      interned.set(address, byVnode)
    }
    byVnode.set(vnode, ref)
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

/** Wire form: { id: bytes(32), addr: "host:port", v: vnode }. */
export const keySchema = z.custom<Key>((b) => b instanceof Uint8Array && b.length === KEY_BYTES, 'a key is 32 bytes')
export const addressSchema = z.string().min(3).max(262).regex(/^[^\s/]+:\d{1,5}$/, 'address is host:port')
  .refine((a) => Number(a.slice(a.lastIndexOf(':') + 1)) <= 65535, 'port out of range')
export const nodeRefSchema = z.object({ id: keySchema, addr: addressSchema, v: z.number().int().min(0).max(MAX_VNODES - 1) })
export type NodeRefWire = z.infer<typeof nodeRefSchema>

export function toWire (n: NodeRef): NodeRefWire {
  return { id: n.id, addr: n.address, v: n.vnode }
}

/** Parses a wire NodeRef and checks that its id is the one its address and vnode derive. */
export function fromWire (w: NodeRefWire): NodeRef {
  const ref = makeNodeRef(w.addr, w.v)
  if (!keysEqual(ref.id, w.id)) throw new BadRequestError(`node id does not match ${w.addr}/${w.v}`)
  return ref
}
