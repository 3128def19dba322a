import { UnknownMethodError, type Logger } from '../core/index.js'
import { FrameType, Status, errorForStatus, statusForError, type RequestFrame, type ResponseFrame } from './protocol.js'
import type { RequestContext, RequestHandler } from './transport.js'

/**
 * Runs a request through its handler and always produces a response frame: a handler that
 * throws, or a method nobody serves, becomes an error status, never a crash.
 */
export async function dispatchRequest (
  handlers: ReadonlyMap<string, RequestHandler>,
  frame: RequestFrame,
  context: RequestContext,
  log: Logger,
): Promise<ResponseFrame> {
  const handler = handlers.get(frame.method)
  try {
    if (handler === undefined) throw new UnknownMethodError(`no handler for ${frame.method}`)
    const body = await handler(frame.body, context)
    return { type: FrameType.RESPONSE, id: frame.id, status: Status.OK, body: body ?? null }
  } catch (err) {
    const status = statusForError(err)
    if (status === Status.ERROR) log.error('%s from %s failed: %o', frame.method, context.remoteAddress, err)
    else log.trace('%s from %s: %s', frame.method, context.remoteAddress, (err as Error).message)
    return { type: FrameType.RESPONSE, id: frame.id, status, body: String((err as Error)?.message ?? err) }
  }
}

/** Turns a response frame into the body, or throws the local error its status maps to. */
export function unwrapResponse (frame: ResponseFrame, method: string): unknown {
  if (frame.status === Status.OK) return frame.body
  throw errorForStatus(frame.status, typeof frame.body === 'string' ? frame.body : 'error', method)
}

/** Adds a method's handler; one handler per method on a transport (misuse: RangeError). */
export function registerHandler (handlers: Map<string, RequestHandler>, method: string, handler: RequestHandler): void {
  if (handlers.has(method)) throw new RangeError(`a handler for ${method} is already registered`)
  handlers.set(method, handler)
}
