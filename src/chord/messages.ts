import { z } from 'zod'
import { BadRequestError, ProtocolError } from '../core/index.js'
import { checkKey, checkNodeList, checkNodeRef, isRecord } from './body-checks.js'
import { keySchema, nodeRefSchema } from './node-ref.js'

/** Chord RPC methods and their bodies (docs/PROTOCOL.md#chord). `to` names the target vnode's id. */
export const ChordMethod = {
  PING: 'chord.ping',
  STATE: 'chord.state',
  NOTIFY: 'chord.notify',
  NEXT: 'chord.next',
  LEAVE: 'chord.leave',
  FINGERS: 'chord.fingers',
} as const

const nodeList = z.array(nodeRefSchema).max(64)

/**
 * Hand-written checks tried before a schema (body-checks.ts). Each accepts a subset of what its
 * schema accepts and returns what the schema would; undefined sends the body through zod.
 */
const fastChecks = new WeakMap<z.ZodType, (body: unknown) => unknown>()

/** @internal The fast check registered for a schema, for the subset tests. */
export function fastCheckOf (schema: z.ZodType): ((body: unknown) => unknown) | undefined {
  return fastChecks.get(schema)
}

function withFastCheck<S extends z.ZodType> (schema: S, check: (body: unknown) => z.output<S> | undefined): S {
  fastChecks.set(schema, check)
  return schema
}

/** A body that is only `{ to: Key }`. */
const targetOnly = (b: unknown): { to: z.output<typeof keySchema> } | undefined => {
  const to = isRecord(b) ? checkKey(b.to) : undefined
  return to === undefined ? undefined : { to }
}

export const pingRequest = withFastCheck(z.object({ to: keySchema }), targetOnly)
export const pingResponse = withFastCheck(z.object({ id: keySchema }), (b) => {
  const id = isRecord(b) ? checkKey(b.id) : undefined
  return id === undefined ? undefined : { id }
})
export const stateRequest = withFastCheck(z.object({ to: keySchema }), targetOnly)
export const stateResponse = withFastCheck(
  z.object({ self: nodeRefSchema, pred: nodeRefSchema.nullable(), succs: nodeList }),
  (b) => {
    if (!isRecord(b)) return undefined
    const self = checkNodeRef(b.self)
    const pred = b.pred === null ? null : checkNodeRef(b.pred)
    const succs = checkNodeList(b.succs)
    return self === undefined || pred === undefined || succs === undefined ? undefined : { self, pred, succs }
  },
)
export const notifyRequest = withFastCheck(z.object({ to: keySchema, node: nodeRefSchema }), (b) => {
  if (!isRecord(b)) return undefined
  const to = checkKey(b.to)
  const node = checkNodeRef(b.node)
  return to === undefined || node === undefined ? undefined : { to, node }
})
export const nextRequest = withFastCheck(
  z.object({ to: keySchema, key: keySchema, count: z.number().int().min(1).max(16).optional() }),
  (b) => {
    if (!isRecord(b)) return undefined
    const to = checkKey(b.to)
    const key = checkKey(b.key)
    const count = b.count
    if (to === undefined || key === undefined) return undefined
    if (count === undefined) return 'count' in b ? { to, key, count } : { to, key } // as zod: a present key stays
    return Number.isSafeInteger(count) && (count as number) >= 1 && (count as number) <= 16 ? { to, key, count: count as number } : undefined
  },
)
/** done: `nodes` are the key's successor and those after it; otherwise nodes closer to the key, best first. */
export const nextResponse = withFastCheck(z.object({ done: z.boolean(), nodes: nodeList }), (b) => {
  if (!isRecord(b) || typeof b.done !== 'boolean') return undefined
  const nodes = checkNodeList(b.nodes)
  return nodes === undefined ? undefined : { done: b.done, nodes }
})
export const leaveRequest = z.object({
  to: keySchema,
  leaving: nodeRefSchema,
  pred: nodeRefSchema.nullable().optional(),
  succs: nodeList.optional(),
})
export const fingersRequest = withFastCheck(z.object({ to: keySchema }), targetOnly)
/** The vnode's distinct fingers in increasing index order: hints for a neighbour's finger rebuild. */
export const fingersResponse = withFastCheck(z.object({ fingers: nodeList }), (b) => {
  const fingers = isRecord(b) ? checkNodeList(b.fingers) : undefined
  return fingers === undefined ? undefined : { fingers }
})
export const emptyResponse = z.object({}).passthrough()

/** Validates a peer's request body; failures become BAD_REQUEST on the wire. */
export function parseRequest<T> (schema: z.ZodType<T>, body: unknown): T {
  const fast = fastChecks.get(schema)?.(body)
  if (fast !== undefined) return fast as T
  const r = schema.safeParse(body)
  if (!r.success) throw new BadRequestError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
  return r.data
}

/** Validates a peer's response body; failures are the peer's protocol error. */
export function parseResponse<T> (schema: z.ZodType<T>, body: unknown, method: string): T {
  const fast = fastChecks.get(schema)?.(body)
  if (fast !== undefined) return fast as T
  const r = schema.safeParse(body)
  if (!r.success) throw new ProtocolError(`${method}: malformed response: ${r.error.issues[0]?.message ?? ''}`)
  return r.data
}
