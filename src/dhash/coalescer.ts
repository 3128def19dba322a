import { ShuttingDownError, lifetimeController, type AbortOptions } from '../core/index.js'

interface Waiting<Item, Result> {
  item: Item
  bytes: number
  resolve: (r: Result) => void
  reject: (err: unknown) => void
}

interface Lane<Item, Result> {
  queue: Array<Waiting<Item, Result>>
  inflight: number
  scheduled: boolean
}

/** Batches in flight to one destination at once. */
export const DEFAULT_MAX_INFLIGHT = 4
/** Items per batch. */
export const DEFAULT_MAX_ITEMS = 256
/** Bytes per batch (a batch always takes at least one item). */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024

export interface CoalescerInit {
  /** Batches in flight to one destination at once. @default DEFAULT_MAX_INFLIGHT */
  maxInflight?: number
  /** Items per batch. @default DEFAULT_MAX_ITEMS */
  maxItems?: number
  /** Bytes per batch (a batch always takes at least one item). @default DEFAULT_MAX_BATCH_BYTES */
  maxBytes?: number
}

/**
 * Turns many concurrent single-item calls to one destination into a few batch RPCs: items
 * submitted while `maxInflight` batches are out wait and leave together in the next one. A
 * lone call goes out at once (after the current microtask), so batching adds no delay; under
 * load the per-RPC cost (framing, a round trip, an event-loop turn on each side) is shared.
 * `send` answers per item: a Result or an Error for that item alone.
 *
 * It is open from construction. stop() fails every queued item with ShuttingDownError instead
 * of sending it, aborts the signal of the batches on the wire and waits for them to settle;
 * submissions fail the same way until start().
 */
export class Coalescer<Item, Result> {
  private readonly lanes = new Map<string, Lane<Item, Result>>()
  private readonly maxInflight: number
  private readonly maxItems: number
  private readonly maxBytes: number
  private lifetime: AbortController | undefined = lifetimeController()
  /** Batches on the wire. */
  private readonly sending = new Set<Promise<void>>()

  constructor (
    private readonly send: (destination: string, items: Item[], options: AbortOptions) => Promise<Array<Result | Error>>,
    init: CoalescerInit = {},
  ) {
    this.maxInflight = init.maxInflight ?? DEFAULT_MAX_INFLIGHT
    this.maxItems = init.maxItems ?? DEFAULT_MAX_ITEMS
    this.maxBytes = init.maxBytes ?? DEFAULT_MAX_BATCH_BYTES
  }

  /** Accepts submissions again after stop(); a no-op while open. */
  start (): void {
    this.lifetime ??= lifetimeController()
  }

  /** Fails queued items with ShuttingDownError, aborts the batches on the wire and waits for them. Idempotent. */
  async stop (): Promise<void> {
    const lifetime = this.lifetime
    this.lifetime = undefined
    const reason = new ShuttingDownError('coalescer stopped')
    lifetime?.abort(reason)
    for (const [destination, lane] of this.lanes) {
      for (const w of lane.queue.splice(0)) w.reject(reason)
      if (lane.inflight === 0) this.lanes.delete(destination)
    }
    while (this.sending.size > 0) await Promise.allSettled([...this.sending])
  }

  async submit (destination: string, item: Item, bytes: number): Promise<Result> {
    if (this.lifetime === undefined) throw new ShuttingDownError('coalescer stopped')
    let lane = this.lanes.get(destination)
    if (lane === undefined) {
      lane = { queue: [], inflight: 0, scheduled: false }
      this.lanes.set(destination, lane)
    }
    const result = new Promise<Result>((resolve, reject) => { lane.queue.push({ item, bytes, resolve, reject }) })
    if (!lane.scheduled) {
      lane.scheduled = true
      queueMicrotask(() => { lane.scheduled = false; this.pump(destination, lane) })
    }
    return result
  }

  private pump (destination: string, lane: Lane<Item, Result>): void {
    const lifetime = this.lifetime
    while (lifetime !== undefined && lane.inflight < this.maxInflight && lane.queue.length > 0) {
      let bytes = 0
      let n = 0
      while (n < lane.queue.length && n < this.maxItems && (n === 0 || bytes + (lane.queue[n] as Waiting<Item, Result>).bytes <= this.maxBytes)) {
        bytes += (lane.queue[n] as Waiting<Item, Result>).bytes
        n++
      }
      const batch = lane.queue.splice(0, n)
      lane.inflight++
      const sent = this.send(destination, batch.map((w) => w.item), { signal: lifetime.signal }).then((results) => {
        batch.forEach((w, i) => {
          const r = results[i]
          if (r instanceof Error) w.reject(r)
          else if (r === undefined) w.reject(new TypeError('batch answer shorter than the batch'))
          else w.resolve(r)
        })
      }, (err: unknown) => {
        for (const w of batch) w.reject(err)
      }).finally(() => {
        lane.inflight--
        if (lane.inflight === 0 && lane.queue.length === 0) this.lanes.delete(destination)
        else this.pump(destination, lane)
        this.sending.delete(sent)
      })
      this.sending.add(sent)
    }
  }
}
