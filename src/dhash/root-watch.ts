import { BusyError, toHex, type Key } from '../core/index.js'

/** Longest a holder keeps one dhash.watch open before answering "nothing newer". */
export const MAX_WATCH_MS = 30_000
/** Open watches of one root a node keeps at most; more are refused with BUSY (the readers poll). */
export const DEFAULT_MAX_WATCHERS_PER_ROOT = 1024
/** Open watches a node keeps at most, over all roots. */
export const DEFAULT_MAX_WATCHERS = 16_384

export interface RootWatchersInit {
  /** Watches of one root at most; 0 refuses every watch. @default DEFAULT_MAX_WATCHERS_PER_ROOT */
  maxPerRoot?: number
  /** Watches in all at most. @default DEFAULT_MAX_WATCHERS */
  maxTotal?: number
}

/** A stored root: its sequence number and bytes. */
export interface HeldRoot { readonly seq: number, readonly bytes: Uint8Array }

interface Waiter { readonly after: number, readonly done: (bytes: Uint8Array | undefined) => void }

/**
 * Open watches of signed roots on one node (dhash.watch, a long poll): each waits until the
 * node stores a root of that key with a sequence number above the one the watcher has, and
 * is answered with its bytes, or with nothing once its time is up. The holder does no more
 * work per watcher than keeping it in a set and answering it once, and the number kept is
 * bounded per root and in all: past the bound a watch is refused (BusyError) and the reader
 * falls back to polling.
 */
export class RootWatchers {
  private readonly byKey = new Map<string, Set<Waiter>>()
  private total = 0
  private readonly maxPerRoot: number
  private readonly maxTotal: number

  constructor (init: RootWatchersInit = {}) {
    this.maxPerRoot = init.maxPerRoot ?? DEFAULT_MAX_WATCHERS_PER_ROOT
    this.maxTotal = init.maxTotal ?? DEFAULT_MAX_WATCHERS
  }

  /** Open watches, in all. */
  get size (): number { return this.total }

  /**
   * The root of `key` once one newer than `after` is stored (at once if it is already), or
   * undefined after `waitMs` or when `signal` aborts (the watcher went away) or on close().
   * `held` reads the root stored now; it is read after the watch is registered, so a root
   * stored in between is not missed.
   */
  async wait (key: Key, after: number, waitMs: number, held: () => Promise<HeldRoot | undefined>, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const hex = toHex(key)
    let set = this.byKey.get(hex)
    if ((set?.size ?? 0) >= this.maxPerRoot || this.total >= this.maxTotal) {
      throw new BusyError(`watches of ${hex.slice(0, 8)} are at this node's limit; poll instead`)
    }
    if (set === undefined) {
      set = new Set()
      this.byKey.set(hex, set)
    }
    const watchers = set
    return new Promise<Uint8Array | undefined>((resolve) => {
      const onAbort = (): void => { finish(undefined) }
      const waiter: Waiter = { after, done: (bytes) => { finish(bytes) } }
      const finish = (bytes: Uint8Array | undefined): void => {
        if (!watchers.delete(waiter)) return
        this.total--
        if (watchers.size === 0 && this.byKey.get(hex) === watchers) this.byKey.delete(hex)
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(bytes)
      }
      const timer = setTimeout(() => { finish(undefined) }, waitMs)
      timer.unref()
      watchers.add(waiter)
      this.total++
      if (signal?.aborted === true) { finish(undefined); return }
      signal?.addEventListener('abort', onAbort, { once: true })
      held().then((root) => { if (root !== undefined && root.seq > after) finish(root.bytes) }, () => {})
    })
  }

  /** A root of `key` at `seq` was stored: answers every watcher that has an older one. */
  notify (key: Key, seq: number, bytes: Uint8Array): void {
    const set = this.byKey.get(toHex(key))
    if (set === undefined) return
    for (const w of [...set]) if (seq > w.after) w.done(bytes)
  }

  /** Answers every open watch with nothing (the node is stopping). */
  close (): void {
    for (const set of [...this.byKey.values()]) for (const w of [...set]) w.done(undefined)
  }
}
