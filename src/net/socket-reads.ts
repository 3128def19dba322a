import net from 'node:net'

// Reads of an accepted connection into memory the reader lends, as an outbound connection's
// `onread` does (tcp-transport.ts). Node offers `onread` only to sockets it connects: a socket
// a server accepted delivers each read as a new Buffer through the stream machinery, one per
// 16 KiB TLS record. Measured here (Node 20, TLS 1.3, 512 MiB in 1 MiB writes, the receiver
// copying into 1 MiB frames): 1.23-1.27 ms of the receiver's CPU per MB through 'data'
// events, 0.75-0.79 reading in place. Every byte a node stores arrives on an accepted
// connection (from the writer, then from the primary), so a written MB is received three
// times with k = 3.
//
// The accepted socket is given what `onread` gives a connected one: net.Socket keeps it under
// three symbols (the buffer, the function that makes the next one, the callback), read by
// Node's own read path (onStreamRead), pause() and resume(); the handle is told to read into
// the buffer (useUserBuffer). The symbols are not exported, so they are found on a probe
// socket by their names; where this Node lacks any of the parts, nothing is changed and the
// caller reads 'data' events as before.

interface ReadSymbols { buffer: symbol, make: symbol, callback: symbol }

let symbols: ReadSymbols | null | undefined

/** net.Socket's `onread` slots, or null if this Node keeps them otherwise. */
function readSymbols (): ReadSymbols | null {
  if (symbols !== undefined) return symbols
  const probe = new net.Socket()
  const named = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]))
  probe.destroy()
  const buffer = named.get('kBuffer')
  const make = named.get('kBufferGen')
  const callback = named.get('kBufferCb')
  symbols = buffer !== undefined && make !== undefined && callback !== undefined ? { buffer, make, callback } : null
  return symbols
}

/** What `readAcceptedInPlace` needs of the connection's reader. */
export interface InPlaceReads {
  /** Takes bytes the socket had already read as Buffers (before the switch); they are its own. */
  push: (chunk: Uint8Array) => void
  /** Where the next read should go (FrameReader.readTarget). */
  target: () => Uint8Array
  /** `n` bytes read into `into`, which `target` gave (FrameReader.received). */
  received: (into: Uint8Array, n: number) => void
}

/**
 * Makes an accepted socket read into `reads.target()` and report to `reads.received`, as
 * `onread` does for a connected one; bytes it already holds go to `reads.push` first, in order.
 * Returns false, changing nothing, where this Node does not offer the parts: the caller then
 * reads 'data' events. pause() and resume() keep working (Node's net stops and restarts the
 * handle's reads for such sockets).
 */
export function readAcceptedInPlace (socket: net.Socket, reads: InPlaceReads): boolean {
  const slots = readSymbols()
  // null once the socket is closed (a peer may hang up before it is served), undefined where absent.
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: unknown } | null })._handle
  if (slots === null || handle === undefined || handle === null || typeof handle.useUserBuffer !== 'function') return false
  // Bytes read before now sit in the stream's buffer: they come first.
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) reads.push(chunk)
  const slotted = socket as unknown as Record<symbol, unknown>
  const first = reads.target()
  slotted[slots.make] = reads.target
  slotted[slots.buffer] = first
  slotted[slots.callback] = (n: number, into: Uint8Array): boolean => {
    reads.received(into, n)
    return true
  }
  ;(handle.useUserBuffer as (buffer: Uint8Array) => void).call(handle, first)
  return true
}
