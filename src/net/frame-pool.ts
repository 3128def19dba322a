import { NO_METRICS, type Metrics } from '../core/index.js'

/** Frames of at least this many bytes are read into pooled buffers. */
export const DEFAULT_POOLED_FRAME_MIN_BYTES = 512 * 1024
/** Bytes of each pooled buffer: a 1 MiB block and its frame's envelope. */
export const DEFAULT_POOLED_FRAME_BYTES = 1024 * 1024 + 16 * 1024
/** Buffers given back and kept for the next frames (the rest are left to the collector). */
export const DEFAULT_POOLED_FRAMES = 16

export interface FramePoolComponents {
  /** Where the buffers taken are counted, new or given back (cfs_net_frame_buffers_total). @default NO_METRICS */
  metrics?: Metrics
}

export interface FramePoolInit {
  /** Frames of at least this many bytes come from the pool. @default DEFAULT_POOLED_FRAME_MIN_BYTES */
  minBytes?: number
  /** Bytes of each buffer: larger frames are not pooled. @default DEFAULT_POOLED_FRAME_BYTES */
  bufferBytes?: number
  /** Free buffers kept at most. @default DEFAULT_POOLED_FRAMES */
  maxFree?: number
}

/**
 * Buffers for large incoming frames that are used again once their reader is done with them.
 * A reading mount receives a 1 MiB block frame for every MiB it reads: allocated anew, each
 * is memory outside V8's heap that V8 counts, and every 64 MiB of it started a full
 * collection (a fifth of a cold read's CPU in the mount). Given back and taken again, the
 * same few buffers carry the whole read.
 *
 * A buffer is given back only by whoever knows that nothing refers to the frame any more
 * (the block reader, for a data block no reader holds: fs/block-reader.ts). One never given
 * back is simply collected, so taking from the pool never obliges anyone to give back.
 */
export class FramePool {
  private readonly minBytes: number
  private readonly bufferBytes: number
  private readonly maxFree: number
  private readonly free: ArrayBuffer[] = []
  /** The pool's buffers that are out (taken, not given back); weak: one never given back is collected. */
  private readonly lent = new WeakSet<ArrayBuffer>()
  private counts = { taken: 0, reused: 0, givenBack: 0 }

  constructor (components: FramePoolComponents = {}, init: FramePoolInit = {}) {
    this.minBytes = init.minBytes ?? DEFAULT_POOLED_FRAME_MIN_BYTES
    this.bufferBytes = init.bufferBytes ?? DEFAULT_POOLED_FRAME_BYTES
    this.maxFree = Math.max(0, init.maxFree ?? DEFAULT_POOLED_FRAMES)
    const metrics = components.metrics ?? NO_METRICS
    metrics.collect({
      name: 'cfs_net_frame_buffers_total',
      help: 'Large incoming frames read into the frame pool\'s buffers, by whether the buffer was new or given back by a reader',
      labelNames: ['source'],
      type: 'counter',
      collect: (report) => {
        report(this.counts.taken - this.counts.reused, 'new')
        report(this.counts.reused, 'reused')
      },
    })
  }

  /** Frames taken, of those taken from given-back buffers, and buffers given back. */
  get stats (): { taken: number, reused: number, givenBack: number, free: number } {
    return { ...this.counts, free: this.free.length }
  }

  /**
   * A buffer for a frame of `length` bytes (its contents are whatever was there before), or
   * undefined when frames of that size are not pooled.
   */
  take (length: number): Uint8Array | undefined {
    if (length < this.minBytes || length > this.bufferBytes) return undefined
    let buffer = this.free.pop()
    // Not zeroed (as FrameReader's own frames): every byte of a frame is written before it is seen.
    if (buffer === undefined) buffer = Buffer.allocUnsafeSlow(this.bufferBytes).buffer
    else this.counts.reused++
    this.lent.add(buffer)
    this.counts.taken++
    return new Uint8Array(buffer, 0, length)
  }

  /**
   * Gives back the frame `bytes` lies in: its memory is then written by later frames, so no
   * view of it may be used afterwards. A view of anything else, or of a frame already given
   * back, is ignored.
   */
  give (bytes: Uint8Array): void {
    const buffer = bytes.buffer
    if (!(buffer instanceof ArrayBuffer) || !this.lent.has(buffer)) return
    this.lent.delete(buffer)
    this.counts.givenBack++
    if (this.free.length < this.maxFree) this.free.push(buffer)
  }
}
