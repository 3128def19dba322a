/*
 * Hand-written checks for the hot Chord bodies, tried before the zod schemas in messages.ts.
 *
 * Why: every simulated RPC validates its request and its response, and zod's general machinery
 * was about an eighth of the CPU time of building a large ring. These functions accept a strict
 * subset of what the schemas accept and return exactly what the schema would (a fresh object
 * with only the known fields). Anything they do not accept, they return undefined for, and the
 * caller runs the zod schema, which rejects it with its usual issues (or accepts an unusual but
 * valid body). So the schemas stay the definition of valid input; test/unit/chord/body-checks
 * checks the subset property on random and mutated bodies.
 */
import { KEY_BYTES, type Key } from '../core/index.js'
import { MAX_VNODES, NODE_KEY_BYTES, type NodeRefWire } from './node-ref.js'

/** The same test as zod's z.object: a non-null, non-array object. */
export function isRecord (x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

export function checkKey (x: unknown): Key | undefined {
  return x instanceof Uint8Array && x.length === KEY_BYTES ? x as Key : undefined
}

// Must match addressSchema in node-ref.ts.
const ADDRESS = /^[^\s/]+:\d{1,5}$/

export function checkAddress (x: unknown): string | undefined {
  if (typeof x !== 'string' || x.length < 3 || x.length > 262 || !ADDRESS.test(x)) return undefined
  return Number(x.slice(x.lastIndexOf(':') + 1)) <= 65535 ? x : undefined
}

export function checkNodeRef (x: unknown): NodeRefWire | undefined {
  if (!isRecord(x)) return undefined
  const id = checkKey(x.id)
  const addr = checkAddress(x.addr)
  const v = x.v
  if (id === undefined || addr === undefined || !Number.isSafeInteger(v) || (v as number) < 0 || (v as number) >= MAX_VNODES) return undefined
  if (!('k' in x)) return { id, addr, v: v as number }
  const k = x.k
  // A present `k` that is not a key (undefined included) goes to zod.
  return k instanceof Uint8Array && k.length === NODE_KEY_BYTES ? { id, addr, v: v as number, k } : undefined
}

/** A list of at most `max` NodeRefs (the schemas' nodeList). */
export function checkNodeList (x: unknown, max = 64): NodeRefWire[] | undefined {
  if (!Array.isArray(x) || x.length > max) return undefined
  const out: NodeRefWire[] = []
  for (const item of x) {
    const n = checkNodeRef(item)
    if (n === undefined) return undefined
    out.push(n)
  }
  return out
}
