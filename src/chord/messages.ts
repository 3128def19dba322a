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
  /** The one method without `to`: the records of the endpoint's vnodes, for a caller that knows only an address. */
  VNODES: 'chord.vnodes',
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
/** An optional count: absent stays absent, present must be a safe integer in [min, max]. */
function optionalCount (b: Record<string, unknown>, field: string, min: number, max: number): { ok: boolean, value?: number } {
  const v = b[field]
  if (v === undefined) return { ok: true, value: undefined }
  return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? { ok: true, value: v as number } : { ok: false }
}

/**
 * `succs` in chord.state: at most this many successors in the answer; `preds`: the answer
 * carries at most this many of the node's predecessor list (none when absent).
 */
export const stateRequest = withFastCheck(z.object({
  to: keySchema,
  succs: z.number().int().min(0).max(64).optional(),
  preds: z.number().int().min(0).max(64).optional(),
}), (b) => {
  if (!isRecord(b)) return undefined
  const to = checkKey(b.to)
  const succs = optionalCount(b, 'succs', 0, 64)
  const preds = optionalCount(b, 'preds', 0, 64)
  if (to === undefined || !succs.ok || !preds.ok) return undefined
  // As zod: a present key stays.
  return { to, ...('succs' in b ? { succs: succs.value } : {}), ...('preds' in b ? { preds: preds.value } : {}) }
})
/** `preds`: the node's predecessor list, nearest first, when asked for. */
export const stateResponse = withFastCheck(
  z.object({ self: nodeRefSchema, pred: nodeRefSchema.nullable(), succs: nodeList, preds: nodeList.optional() }),
  (b) => {
    if (!isRecord(b)) return undefined
    const self = checkNodeRef(b.self)
    const pred = b.pred === null ? null : checkNodeRef(b.pred)
    const succs = checkNodeList(b.succs)
    if (self === undefined || pred === undefined || succs === undefined) return undefined
    if (!('preds' in b)) return { self, pred, succs }
    const preds = checkNodeList(b.preds)
    return preds === undefined ? undefined : { self, pred, succs, preds }
  },
)
export const notifyRequest = withFastCheck(z.object({ to: keySchema, node: nodeRefSchema }), (b) => {
  if (!isRecord(b)) return undefined
  const to = checkKey(b.to)
  const node = checkNodeRef(b.node)
  return to === undefined || node === undefined ? undefined : { to, node }
})
/** chord.next `count` when absent: the candidates returned when not done (and what cfs callers send). */
export const DEFAULT_NEXT_COUNT = 3

/** `count`: candidates when not done; `succs`: at most this many nodes when done. */
export const nextRequest = withFastCheck(
  z.object({
    to: keySchema,
    key: keySchema,
    count: z.number().int().min(1).max(16).optional(),
    succs: z.number().int().min(1).max(64).optional(),
  }),
  (b) => {
    if (!isRecord(b)) return undefined
    const to = checkKey(b.to)
    const key = checkKey(b.key)
    const count = optionalCount(b, 'count', 1, 16)
    const succs = optionalCount(b, 'succs', 1, 64)
    if (to === undefined || key === undefined || !count.ok || !succs.ok) return undefined
    // As zod: a key that is present stays present, even when undefined.
    return { to, key, ...('count' in b ? { count: count.value } : {}), ...('succs' in b ? { succs: succs.value } : {}) }
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

/** chord.vnodes: {} -> the endpoint's vnodes, as the ring knows them (their advertised address, their pin). */
export const vnodesResponse = z.object({ nodes: z.array(nodeRefSchema).min(1).max(1024) })
