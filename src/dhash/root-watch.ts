import { BlockInvalidError, BusyError, deadline, isCfsError, isUnreachable, toHex, type AbortOptions, type Key } from '../core/index.js'
import type { NodeRef } from '../chord/index.js'
import { BlockKind } from './block.js'
import { verifyBlock } from './verify.js'

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

/** Lookups one watch makes again after finding a holder unreachable. */
const WATCH_LOOKUPS = 2

/** What a watcher needs of the client: the root's holders, a watch of one, and word of one gone. */
export interface WatchPorts {
  /** The root key's holders (`again`: look up afresh, not from a cache). */
  holders: (again: boolean, options: AbortOptions) => Promise<readonly NodeRef[]>
  /** dhash.watch at one holder: the bytes it answers, unverified, or undefined when its wait ended. */
  watch: (node: NodeRef, options: AbortOptions) => Promise<Uint8Array | undefined>
  /** A holder could not be reached (the client forgets where it was). */
  unreachable: (node: NodeRef) => void
}

/**
 * The watcher's side: a watch at every holder of the root at once; the first answer that
 * verifies as a root of `key` newer than `after` wins and the other watches are dropped
 * (their signal aborts). A holder that cannot be reached, or goes away during the watch (its
 * connection closes), has the holders looked up again at once, and the node that took its
 * place is watched too (at most WATCH_LOOKUPS times). Undefined when every watch ended with
 * nothing; throws when every one failed (BusyError when all were refused).
 */
export async function watchHolders (ports: WatchPorts, key: Key, after: number, signal: AbortSignal): Promise<Uint8Array | undefined> {
  const won = new AbortController()
  const round = deadline([signal, won.signal], Infinity)
  const watched = new Set<string>()
  const errors: Error[] = []
  let pending = 0
  let lookups = 0
  try {
    return await new Promise<Uint8Array | undefined>((resolve, reject) => {
      const settleOne = (): void => {
        if (--pending > 0) return
        const error = errors[0]
        if (error !== undefined && errors.length >= watched.size) reject(error)
        else resolve(undefined)
      }
      const watchAll = (again: boolean): void => {
        pending++
        lookups++
        ports.holders(again, { signal: round.signal }).then((holders) => {
          for (const node of holders) watchAt(node)
        }, (err: unknown) => { if (!round.signal.aborted) errors.push(asError(err)) }).finally(settleOne)
      }
      const watchAt = (node: NodeRef): void => {
        if (watched.has(node.address)) return
        watched.add(node.address)
        pending++
        ports.watch(node, { signal: round.signal }).then((bytes) => {
          if (bytes === undefined) return
          // A holder's answer is checked as any root: key, signature, and newer than ours.
          if (verifyBlock(key, BlockKind.ROOT, bytes).seq <= after) throw new BlockInvalidError(`${node.address} answered a watch with version ${after} or older`)
          resolve(bytes)
          won.abort()
        }).catch((err: unknown) => {
          if (round.signal.aborted) return
          errors.push(asError(err))
          if (isCfsError(err) && isUnreachable(err) && lookups <= WATCH_LOOKUPS) {
            ports.unreachable(node)
            watchAll(true)
          }
        }).finally(settleOne)
      }
      watchAll(false)
    })
  } finally {
    won.abort()
    round.dispose()
  }
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
