import { getEventListeners } from 'node:events'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AbortError, TimeoutError } from '../../../src/core/errors.js'
import { PendingCalls } from '../../../src/net/pending-calls.js'

interface Deferred<T> { promise: Promise<T>, resolve: (v: T) => void, reject: (e: Error) => void }
function deferred<T> (): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Settles the call's outcome into a value so a rejection is never left unobserved. */
async function outcome<T> (p: Promise<T>): Promise<{ ok: true, value: T } | { ok: false, error: unknown }> {
  return p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))
}

const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length

describe('PendingCalls', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('resolves with the promise and forgets the call', async () => {
    const calls = new PendingCalls()
    const d = deferred<string>()
    const ctl = new AbortController()
    const tracked = calls.track(d.promise, 1_000, ctl.signal)
    expect(calls.size).toBe(1)
    expect(abortListeners(ctl.signal)).toBe(1)
    d.resolve('answer')
    await expect(tracked).resolves.toBe('answer')
    expect(calls.size).toBe(0)
    expect(abortListeners(ctl.signal)).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rejects with the promise error and forgets the call', async () => {
    const calls = new PendingCalls()
    const d = deferred<string>()
    const tracked = outcome(calls.track(d.promise, 1_000))
    const err = new Error('remote failed')
    d.reject(err)
    expect(await tracked).toEqual({ ok: false, error: err })
    expect(calls.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('times out with TimeoutError after timeoutMs, and ignores a late answer', async () => {
    const calls = new PendingCalls()
    const d = deferred<string>()
    const ctl = new AbortController()
    const tracked = outcome(calls.track(d.promise, 250, ctl.signal))
    await vi.advanceTimersByTimeAsync(249)
    expect(calls.size).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    const r = await tracked
    expect(r.ok).toBe(false)
    expect(!r.ok && r.error).toBeInstanceOf(TimeoutError)
    expect(!r.ok && (r.error as TimeoutError).code).toBe('TIMEOUT')
    expect(calls.size).toBe(0)
    expect(abortListeners(ctl.signal)).toBe(0)
    d.resolve('too late')
    await Promise.resolve()
    expect(calls.size).toBe(0)
  })

  it('rejects with the signal reason on abort and forgets the call', async () => {
    const calls = new PendingCalls()
    const ctl = new AbortController()
    const tracked = outcome(calls.track(new Promise<never>(() => {}), 1_000, ctl.signal))
    const reason = new Error('user cancelled')
    ctl.abort(reason)
    expect(await tracked).toEqual({ ok: false, error: reason })
    expect(calls.size).toBe(0)
    expect(abortListeners(ctl.signal)).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('turns a non-Error abort reason into AbortError', async () => {
    const calls = new PendingCalls()
    const ctl = new AbortController()
    const tracked = outcome(calls.track(new Promise<never>(() => {}), 1_000, ctl.signal))
    ctl.abort('nope')
    const r = await tracked
    expect(!r.ok && r.error).toBeInstanceOf(AbortError)
  })

  it('rejects at once with the reason of an already aborted signal, tracking nothing', async () => {
    const calls = new PendingCalls()
    const reason = new Error('already')
    const d = deferred<number>()
    const tracked = outcome(calls.track(d.promise, 1_000, AbortSignal.abort(reason)))
    expect(calls.size).toBe(0)
    expect(await tracked).toEqual({ ok: false, error: reason })
    expect(vi.getTimerCount()).toBe(0)
    d.resolve(1)
  })

  it('failAll rejects every call in flight with the error and empties the set', async () => {
    const calls = new PendingCalls()
    const ctl = new AbortController()
    const ds = [deferred<number>(), deferred<number>(), deferred<number>()]
    const tracked = ds.map((d) => outcome(calls.track(d.promise, 1_000, ctl.signal)))
    expect(calls.size).toBe(3)
    expect(abortListeners(ctl.signal)).toBe(3)
    const stop = new Error('transport stopped')
    calls.failAll(stop)
    expect(calls.size).toBe(0)
    expect(await Promise.all(tracked)).toEqual(ds.map(() => ({ ok: false, error: stop })))
    expect(abortListeners(ctl.signal)).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    // Late answers and a later abort change nothing.
    for (const d of ds) d.resolve(1)
    ctl.abort(new Error('later'))
    await Promise.resolve()
    expect(calls.size).toBe(0)
  })

  it('failAll leaves calls that already settled alone', async () => {
    const calls = new PendingCalls()
    const done = deferred<string>()
    const first = calls.track(done.promise, 1_000)
    const second = outcome(calls.track(new Promise<never>(() => {}), 1_000))
    done.resolve('ok')
    await expect(first).resolves.toBe('ok')
    expect(calls.size).toBe(1)
    const err = new Error('stop')
    calls.failAll(err)
    expect(await second).toEqual({ ok: false, error: err })
    expect(calls.size).toBe(0)
  })

  it('size counts only calls still in flight', async () => {
    const calls = new PendingCalls()
    const ds = Array.from({ length: 5 }, () => deferred<number>())
    const tracked = ds.map((d) => calls.track(d.promise, 1_000))
    expect(calls.size).toBe(5)
    ds.forEach((d, i) => { d.resolve(i) })
    expect(await Promise.all(tracked)).toEqual([0, 1, 2, 3, 4])
    expect(calls.size).toBe(0)
  })
})

describe('PendingCalls with an already aborted signal', () => {
  /**
   * Transports start the exchange before calling track (memory-transport.ts, tcp-transport.ts):
   * request(dead address, { signal: aborted }) hands track a promise that later rejects with
   * NodeUnreachableError. track must still observe it, or Node reports an unhandled rejection
   * (which terminates a daemon under the default --unhandled-rejections=throw).
   */
  it('still observes the promise, so its later rejection is not unhandled', async () => {
    const seen: unknown[] = []
    const onUnhandled = (reason: unknown): void => { seen.push(reason) }
    const saved = process.listeners('unhandledRejection')
    process.removeAllListeners('unhandledRejection')
    process.on('unhandledRejection', onUnhandled)
    try {
      const calls = new PendingCalls()
      const d = deferred<never>()
      const tracked = outcome(calls.track(d.promise, 1_000, AbortSignal.abort(new Error('cancelled'))))
      expect((await tracked).ok).toBe(false)
      d.reject(new Error('peer unreachable'))
      await new Promise((resolve) => { setImmediate(resolve) })
      await new Promise((resolve) => { setImmediate(resolve) })
      expect(seen.map((e) => (e as Error).message)).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
      for (const l of saved) process.on('unhandledRejection', l)
    }
  })
})
