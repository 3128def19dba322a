import { randomBytes } from 'node:crypto'
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
  return packr.pack(frameFields(frame))
}

/** A frame as a list of byte ranges to send in order: the same bytes encodeFrame gives. */
export interface FrameParts {
  readonly parts: readonly Uint8Array[]
  readonly byteLength: number
}

/** Byte strings this long or longer are sent from their own memory instead of being copied into the frame. */
export const SCATTER_MIN_BYTES = 16 * 1024

/**
 * encodeFrame without copying large byte strings (blocks): msgpackr packs the frame with a
 * short marker in place of each, and the marker is cut out and replaced by the bin header
 * msgpackr would have written and the bytes themselves, to be written with writev: the
 * same bytes on the wire. Copying a 1 MiB block into a new
 * buffer for every hop cost as much CPU as hashing it, and the garbage made V8 collect
 * more often. The markers start with random bytes drawn once per process, so they cannot
 * occur by chance in what is packed around them.
 */
export function encodeFrameParts (frame: Frame): FrameParts {
  const large: Uint8Array[] = []
  const packed = packr.pack(withMarkers(frameFields(frame), large, 0))
  if (large.length === 0) return { parts: [packed], byteLength: packed.length }
  const cuts = large.map((bytes, i) => ({ bytes, at: packed.indexOf(markerOf(i)) }))
  cuts.sort((a, b) => a.at - b.at)
  const parts: Uint8Array[] = []
  let from = 0
  let byteLength = 0
  for (const { bytes, at } of cuts) {
    if (at < from) throw new Error('frame marker not found') // cannot happen: each was packed once
    const header = binHeader(bytes.length)
    parts.push(packed.subarray(from, at), header, bytes)
    byteLength += at - from + header.length + bytes.length
    from = at + MARKER_BYTES
  }
  parts.push(packed.subarray(from))
  byteLength += packed.length - from
  return { parts, byteLength }
}

/** The smallest MessagePack bin header for `length` bytes (at least 256 here), as msgpackr writes it. */
function binHeader (length: number): Uint8Array {
  if (length < 0x10000) return Uint8Array.of(0xc5, length >> 8, length & 0xff)
  const header = new Uint8Array(5)
  header[0] = 0xc6
  new DataView(header.buffer).setUint32(1, length)
  return header
}

function frameFields (frame: Frame): unknown[] {
  return frame.type === FrameType.REQUEST
    ? [frame.type, frame.id, frame.method, frame.body]
    : [frame.type, frame.id, frame.status, frame.body]
}

/** bin8 header (0xc4, 16) + 12 random bytes + a 4-byte index: how a marker is packed. */
const MARKER_BYTES = 18
const MARKER_PREFIX = randomBytes(12)
/** Deep enough for every message; deeper values are packed as they are (copied). */
const MAX_MARKER_DEPTH = 8

function markerBody (i: number): Uint8Array {
  const m = new Uint8Array(16)
  m.set(MARKER_PREFIX)
  new DataView(m.buffer).setUint32(12, i)
  return m
}

function markerOf (i: number): Uint8Array {
  const m = new Uint8Array(MARKER_BYTES)
  m[0] = 0xc4
  m[1] = 16
  m.set(markerBody(i), 2)
  return m
}

/** `value` with every large byte string replaced by a marker (appended to `large`); shares what it does not change. */
function withMarkers (value: unknown, large: Uint8Array[], depth: number): unknown {
  if (value instanceof Uint8Array) {
    if (value.length < SCATTER_MIN_BYTES) return value
    large.push(value)
    return markerBody(large.length - 1)
  }
  if (value === null || typeof value !== 'object' || depth >= MAX_MARKER_DEPTH) return value
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const w = withMarkers(value[i], large, depth + 1)
      if (w !== value[i]) out ??= value.slice()
      if (out !== undefined) out[i] = w
    }
    return out ?? value
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value
  let out: Record<string, unknown> | undefined
  for (const [k, v] of Object.entries(value)) {
    const w = withMarkers(v, large, depth + 1)
    if (w !== v) out ??= { ...value }
    if (out !== undefined) out[k] = w
  }
  return out ?? value
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
