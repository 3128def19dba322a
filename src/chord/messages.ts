import { z } from 'zod'
import { BadRequestError, ProtocolError } from '../core/index.js'
import { keySchema, nodeRefSchema } from './node-ref.js'

/** Chord RPC methods and their bodies (docs/PROTOCOL.md#chord). `to` names the target vnode's id. */
export const ChordMethod = {
  PING: 'chord.ping',
  STATE: 'chord.state',
  NOTIFY: 'chord.notify',
  NEXT: 'chord.next',
  LEAVE: 'chord.leave',
} as const

const nodeList = z.array(nodeRefSchema).max(64)

export const pingRequest = z.object({ to: keySchema })
export const pingResponse = z.object({ id: keySchema })
export const stateRequest = z.object({ to: keySchema })
export const stateResponse = z.object({ self: nodeRefSchema, pred: nodeRefSchema.nullable(), succs: nodeList })
export const notifyRequest = z.object({ to: keySchema, node: nodeRefSchema })
export const nextRequest = z.object({ to: keySchema, key: keySchema, count: z.number().int().min(1).max(16).optional() })
/** done: `nodes` are the key's successor and those after it; otherwise nodes closer to the key, best first. */
export const nextResponse = z.object({ done: z.boolean(), nodes: nodeList })
export const leaveRequest = z.object({
  to: keySchema,
  leaving: nodeRefSchema,
  pred: nodeRefSchema.nullable().optional(),
  succs: nodeList.optional(),
})
export const emptyResponse = z.object({}).passthrough()

/** Validates a peer's request body; failures become BAD_REQUEST on the wire. */
export function parseRequest<T> (schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body)
  if (!r.success) throw new BadRequestError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
  return r.data
}

/** Validates a peer's response body; failures are the peer's protocol error. */
export function parseResponse<T> (schema: z.ZodType<T>, body: unknown, method: string): T {
  const r = schema.safeParse(body)
  if (!r.success) throw new ProtocolError(`${method}: malformed response: ${r.error.issues[0]?.message ?? ''}`)
  return r.data
}
