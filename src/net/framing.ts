import type net from 'node:net'
import { ProtocolError } from '../core/index.js'
import type { FrameParts } from './codec.js'
import type { FramePool } from './frame-pool.js'

// Frames on a TCP (or TLS) byte stream: a 4-byte big-endian length, then that many bytes of
// codec frame (docs/PROTOCOL.md#framing-on-tcp). TcpTransport reads and writes through these.

/** Bytes of the length prefix. */
export const HEADER_BYTES = 4
/** Bytes a connection may have waiting in its socket before further frames queue for 'drain' (FrameWriter). */
export const MAX_WRITE_BUFFERED_BYTES = 1024 * 1024
/** Bytes of a frame that must have arrived before its whole buffer is allocated (FrameReader). */
export const STREAM_ALLOC_BYTES = 64 * 1024

/**
 * Cuts length-prefixed frames out of a byte stream, copying each chunk into its frame as it
 * arrives: a socket chunk (16 KiB on TLS) is garbage as soon as it is read, instead of living,
 * with the frame's other chunks, until the last one came (long enough to be promoted to V8's
 * old generation, which made major collections a large share of a node's CPU). A frame's
 * buffer is allocated once STREAM_ALLOC_BYTES of it (or all of a smaller one) have arrived, so
 * a peer must send that much before a declared length costs memory.
 */
export class FrameReader {
  /** Whole frames, in order, not yet taken by next(). */
  private readonly ready: Uint8Array[] = []
  private readyHead = 0
  /** The 4-byte length of the frame being read, gathered across chunks. */
  private readonly header = new Uint8Array(HEADER_BYTES)
  private headerFilled = 0
  /** The declared length of the frame being read; -1 while its header is incomplete. */
  private length = -1
  /** Its buffer, once allocated, and how much of it is filled. */
  private frame: Uint8Array | undefined
  private filled = 0
  /** Its first chunks, kept until STREAM_ALLOC_BYTES of it have arrived. */
  private early: Uint8Array[] = []
  /** A broken stream, thrown by next() once the frames before the break are taken. */
  private broken: ProtocolError | undefined
  /** The frame lent to the socket by readTarget(), whose next bytes it reads in place. */
  private lent: Uint8Array | undefined

  /** `pool`: where large frames' buffers come from (frame-pool.ts); without it, each is allocated. */
  constructor (private readonly maxFrameBytes: number, private readonly pool?: FramePool) {}

  /**
   * Takes the next bytes of the stream. `borrowed`: the chunk's memory is reused once push
   * returns (a socket's `onread` buffer), so what is kept of it is copied.
   */
  push (chunk: Uint8Array, borrowed = false): void {
    let at = 0
    while (at < chunk.length && this.broken === undefined) {
      if (this.length < 0) {
        const take = Math.min(HEADER_BYTES - this.headerFilled, chunk.length - at)
        this.header.set(chunk.subarray(at, at + take), this.headerFilled)
        this.headerFilled += take
        at += take
        if (this.headerFilled < HEADER_BYTES) return
        const length = new DataView(this.header.buffer).getUint32(0)
        if (length > this.maxFrameBytes) {
          this.broken = new ProtocolError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`)
          return
        }
        this.length = length
        this.headerFilled = 0
        if (length === 0) this.complete(new Uint8Array(0))
        continue
      }
      const take = Math.min(this.length - this.filled, chunk.length - at)
      const piece = chunk.subarray(at, at + take)
      at += take
      if (this.frame === undefined) {
        this.filled += take
        // The piece that completes the early part is copied once, straight into the frame; one
        // kept for later is copied first if the socket lends its memory only for this call.
        if (this.filled === this.length || this.filled >= STREAM_ALLOC_BYTES) this.allocate(piece)
        else this.early.push(borrowed ? new Uint8Array(piece) : piece)
      } else {
        this.frame.set(piece, this.filled)
        this.filled += take
      }
      if (this.filled === this.length) this.complete(this.frame as Uint8Array)
    }
  }

  /**
   * Where a socket that reads into memory it is given (`onread` with a buffer function) should
   * put its next bytes: the unfilled rest of the frame being read, once its buffer exists, so
   * the bytes land in the frame without a copy; `scratch` otherwise (a header, a frame's first
   * STREAM_ALLOC_BYTES, a small frame). The socket then reports with received().
   */
  readTarget (scratch: Uint8Array): Uint8Array {
    if (this.frame === undefined || this.broken !== undefined) return scratch
    this.lent = this.frame.subarray(this.filled, this.length)
    return this.lent
  }

  /** `n` bytes read into `target`, which readTarget() gave: in place, or copied as push(…, borrowed) does. */
  received (target: Uint8Array, n: number): void {
    const lent = this.lent
    this.lent = undefined
    if (lent === undefined || target !== lent) {
      this.push(target.subarray(0, n), true)
      return
    }
    this.filled += n
    if (this.filled === this.length) this.complete(this.frame as Uint8Array)
  }

  /** The next whole frame, or undefined until one has arrived. Throws ProtocolError once the frames before a broken length are taken. */
  next (): Uint8Array | undefined {
    if (this.readyHead < this.ready.length) {
      const frame = this.ready[this.readyHead++] as Uint8Array
      if (this.readyHead === this.ready.length) {
        this.ready.length = 0
        this.readyHead = 0
      }
      return frame
    }
    if (this.broken !== undefined) throw this.broken
    return undefined
  }

  /**
   * Copies the early pieces, then `last`, into the frame's own buffer. A plain Uint8Array over
   * an ArrayBuffer of its own, not a Buffer view of a socket chunk: decoded byte fields pin only
   * their own frame. Not zeroed first (allocUnsafeSlow: 1.5% of a reading mount's CPU went to
   * zeroing 1 MiB frames): every byte is written before the frame is complete, and a frame
   * never completed is never seen. A large frame's buffer may come from the pool: the same.
   */
  private allocate (last: Uint8Array): void {
    const frame = this.pool?.take(this.length) ?? new Uint8Array(Buffer.allocUnsafeSlow(this.length).buffer, 0, this.length)
    let off = 0
    for (const piece of this.early) {
      frame.set(piece, off)
      off += piece.length
    }
    frame.set(last, off)
    this.early = []
    this.frame = frame
  }

  private complete (frame: Uint8Array): void {
    this.ready.push(frame)
    this.length = -1
    this.frame = undefined
    this.filled = 0
  }
}

interface QueuedFrame { frame: FrameParts, written: (() => void) | undefined }

/**
 * Writes length-prefixed frames in order. Once the socket reports its buffer full, later frames
 * wait in a queue for 'drain'; `written` runs when the socket has taken the frame.
 */
export class FrameWriter {
  private queue: Array<QueuedFrame | undefined> = []
  private head = 0
  private blocked = false

  constructor (private readonly socket: net.Socket) {
    socket.on('drain', () => { this.flush() })
  }

  send (frame: FrameParts, written?: () => void): void {
    if (this.socket.destroyed) return
    if (this.blocked) {
      this.queue.push({ frame, written })
      return
    }
    this.write(frame)
    written?.()
  }

  /** Forgets queued frames (the connection is gone). */
  clear (): void {
    this.queue = []
    this.head = 0
  }

  private write (frame: FrameParts): void {
    const header = Buffer.allocUnsafe(HEADER_BYTES)
    header.writeUInt32BE(frame.byteLength, 0)
    // Corked, the header and every part leave in one writev. (Corking a whole tick's frames
    // together saved a fifth of the CPU on plaintext links with 8 KiB frames but cost a sixth
    // more on TLS ones, so each frame is written on its own.)
    this.socket.cork()
    this.socket.write(header)
    let ok = true
    for (const part of frame.parts) if (part.length > 0) ok = this.socket.write(part)
    this.socket.uncork()
    // The socket's own mark (16 KiB) is below most blocks: stopping there would hold every
    // small frame behind a large one's 'drain', which on TLS comes a loop turn after the write.
    if (!ok && this.socket.writableLength >= MAX_WRITE_BUFFERED_BYTES) this.blocked = true
  }

  private flush (): void {
    this.blocked = false
    while (!this.blocked && this.head < this.queue.length && !this.socket.destroyed) {
      const item = this.queue[this.head] as QueuedFrame
      this.queue[this.head++] = undefined
      this.write(item.frame)
      item.written?.()
    }
    if (this.head === this.queue.length || this.head > 1024) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }
}
