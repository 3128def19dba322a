import { setMaxListeners } from 'node:events'
import { AbortError, TimeoutError } from './errors.js'

export interface AbortOptions { signal?: AbortSignal }

export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw toAbortError(signal.reason)
}

function toAbortError (reason: unknown): Error {
  return reason instanceof Error ? reason : new AbortError('operation aborted')
}

/**
 * The controller of a component's lifetime (aborted by its stop): every operation in flight
 * listens to its signal, so it has no listener limit (Node warns past 10).
 */
export function lifetimeController (): AbortController {
  const ctl = new AbortController()
  setMaxListeners(0, ctl.signal)
  return ctl
}

/**
 * A signal that aborts when any parent does or after `ms`, with a `dispose` that removes every
 * listener it added (AbortSignal.any leaks with long-lived parents on some Node releases).
 */
export function deadline (parents: Array<AbortSignal | undefined>, ms: number): { signal: AbortSignal, dispose: () => void } {
  const ctl = new AbortController()
  const live = parents.filter((s): s is AbortSignal => s != null)
  const onAbort = (ev: Event): void => { ctl.abort((ev.target as AbortSignal).reason) }
  const timer = Number.isFinite(ms)
    ? setTimeout(() => { ctl.abort(new TimeoutError(`deadline of ${ms} ms exceeded`)) }, ms)
    : undefined
  for (const s of live) {
    if (s.aborted) ctl.abort(s.reason)
    else s.addEventListener('abort', onAbort, { once: true })
  }
  return {
    signal: ctl.signal,
    dispose: () => {
      clearTimeout(timer)
      for (const s of live) s.removeEventListener('abort', onAbort)
    },
  }
}

/**
 * Deadlines for many short operations at the cost of a few: operations that start within the
 * same `windowMs` share one signal, which aborts (TimeoutError) `ms` + `windowMs` after the
 * window opened, so each operation gets at least `ms`, or when `parent` aborts. One timer
 * per window and one listener on `parent` in all, instead of a controller, a timer and a
 * listener per operation (FUSE requests arrive by the thousand per second).
 */
export class SharedDeadline {
  private window: { readonly signal: AbortSignal, readonly closes: number } | undefined
  private readonly open = new Set<AbortController>()

  constructor (private readonly parent: AbortSignal, private readonly ms: number, private readonly windowMs = 1000) {
    parent.addEventListener('abort', () => {
      for (const ctl of this.open) ctl.abort(parent.reason)
      this.open.clear()
    }, { once: true })
  }

  /** The signal for an operation starting now. */
  signal (): AbortSignal {
    const now = performance.now()
    if (this.window !== undefined && now < this.window.closes) return this.window.signal
    const ctl = new AbortController()
    setMaxListeners(0, ctl.signal)
    if (this.parent.aborted) {
      ctl.abort(this.parent.reason)
    } else if (Number.isFinite(this.ms)) {
      this.open.add(ctl)
      const timer = setTimeout(() => {
        this.open.delete(ctl)
        ctl.abort(new TimeoutError(`deadline of ${this.ms} ms exceeded`))
      }, this.ms + this.windowMs)
      timer.unref()
    }
    this.window = { signal: ctl.signal, closes: now + this.windowMs }
    return ctl.signal
  }
}

/** Rejects with the signal's reason when it aborts first; removes its listener either way. */
export async function raceSignal<T> (promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal == null) return promise
  throwIfAborted(signal)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(toAbortError(signal.reason)) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

export async function sleep (ms: number, options: AbortOptions = {}): Promise<void> {
  throwIfAborted(options.signal)
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(toAbortError(options.signal?.reason)) }
    const timer = setTimeout(() => { options.signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    options.signal?.addEventListener('abort', onAbort, { once: true })
  })
}
