import { Packr } from 'msgpackr'
import { ProtocolError } from '../core/index.js'
import { FrameType, isStatus, type Frame } from './protocol.js'

/**
 * Frames are MessagePack arrays: [0, id, method, body] for requests and [1, id, status, body]
 * for responses. Byte strings travel as MessagePack bin and decode as Uint8Array.
 * Plain MessagePack (no msgpackr records or extensions), so any implementation can speak it.
 */
const options = { useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' } as const
// copyBuffers: decoded byte strings own their memory instead of aliasing the input, which may
// be reused (msgpackr's own output buffer, in the memory transport).
const packr = new Packr({ ...options, copyBuffers: true })
// For input the caller hands over for good (a frame the TCP reader cut into a fresh array):
// byte strings are views into it, saving a copy of every block on every hop.
const viewingUnpackr = new Packr({ ...options, copyBuffers: false })

export function encodeFrame (frame: Frame): Uint8Array {
  const fields = frame.type === FrameType.REQUEST
    ? [frame.type, frame.id, frame.method, frame.body]
    : [frame.type, frame.id, frame.status, frame.body]
  return packr.pack(fields)
}

/**
 * Decodes one frame; throws ProtocolError for anything that is not a well-formed frame.
 * `owned`: the caller never touches `bytes` again, so byte fields may be views into it.
 */
export function decodeFrame (bytes: Uint8Array, owned = false): Frame {
  let value: unknown
  try {
    value = (owned ? viewingUnpackr : packr).unpack(bytes)
  } catch (err) {
    throw new ProtocolError(`undecodable frame: ${(err as Error).message}`, { cause: err })
  }
  if (!Array.isArray(value) || value.length !== 4) throw new ProtocolError('a frame is a 4-element array')
  const [type, id, third, body] = value as [unknown, unknown, unknown, unknown]
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new ProtocolError('bad frame id')
  if (type === FrameType.REQUEST) {
    if (typeof third !== 'string' || third.length === 0 || third.length > 64) throw new ProtocolError('bad method name')
    return { type, id, method: third, body }
  }
  if (type === FrameType.RESPONSE) {
    if (!isStatus(third)) throw new ProtocolError(`bad status (${typeof third})`)
    return { type, id, status: third, body }
  }
  throw new ProtocolError(`unknown frame type (${typeof type === 'number' ? type : typeof type})`)
}
