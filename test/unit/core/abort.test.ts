import { getEventListeners } from 'node:events'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SharedDeadline, deadline, raceSignal, throwIfAborted } from '../../../src/core/abort.js'
import { AbortError, TimeoutError } from '../../../src/core/errors.js'

const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length

describe('deadline', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('aborts with TimeoutError when the time is up, not before', () => {
    const d = deadline([], 100)
    vi.advanceTimersByTime(99)
    expect(d.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(d.signal.aborted).toBe(true)
    expect(d.signal.reason).toBeInstanceOf(TimeoutError)
    expect((d.signal.reason as TimeoutError).code).toBe('TIMEOUT')
    d.dispose()
  })

  it('aborts with the parent reason when a parent aborts first', () => {
    const parent = new AbortController()
    const d = deadline([undefined, parent.signal], 1_000)
    const reason = new Error('parent gone')
    parent.abort(reason)
    expect(d.signal.aborted).toBe(true)
    expect(d.signal.reason).toBe(reason)
    d.dispose()
  })

  it('is aborted at once when a parent already is', () => {
    const reason = new Error('early')
    const d = deadline([AbortSignal.abort(reason)], 1_000)
    expect(d.signal.aborted).toBe(true)
    expect(d.signal.reason).toBe(reason)
    d.dispose()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('dispose removes its listeners from every parent and clears the timer', () => {
    const p1 = new AbortController()
    const p2 = new AbortController()
    const d = deadline([p1.signal, undefined, p2.signal], 1_000)
    expect(abortListeners(p1.signal)).toBe(1)
    expect(abortListeners(p2.signal)).toBe(1)
    expect(vi.getTimerCount()).toBe(1)
    d.dispose()
    expect(abortListeners(p1.signal)).toBe(0)
    expect(abortListeners(p2.signal)).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    // Neither a later parent abort nor the old deadline reaches the disposed signal.
    p1.abort(new Error('late'))
    vi.advanceTimersByTime(5_000)
    expect(d.signal.aborted).toBe(false)
    expect(() => { d.dispose() }).not.toThrow()
  })

  it('many deadlines on one long-lived parent leave no listener behind', () => {
    const parent = new AbortController()
    for (let i = 0; i < 100; i++) deadline([parent.signal], 10).dispose()
    expect(abortListeners(parent.signal)).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an infinite deadline sets no timer and still follows its parents', () => {
    const parent = new AbortController()
    const d = deadline([parent.signal], Number.POSITIVE_INFINITY)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(1e9)
    expect(d.signal.aborted).toBe(false)
    parent.abort(new Error('stop'))
    expect(d.signal.aborted).toBe(true)
    d.dispose()
  })
})

describe('SharedDeadline', () => {
  beforeEach(() => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }) })
  afterEach(() => { vi.useRealTimers() })

  it('gives operations of one window one signal, which aborts no sooner than the deadline of the last of them', () => {
    const parent = new AbortController()
    const d = new SharedDeadline(parent.signal, 100, 10)
    const first = d.signal()
    vi.advanceTimersByTime(9)
    expect(d.signal()).toBe(first) // the same window
    vi.advanceTimersByTime(1)
    const second = d.signal()
    expect(second).not.toBe(first)
    vi.advanceTimersByTime(99) // 109 ms after the first window opened, 100 after its last operation began
    expect(first.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(first.aborted).toBe(true)
    expect(first.reason).toBeInstanceOf(TimeoutError)
    expect(second.aborted).toBe(false)
    expect(abortListeners(parent.signal)).toBe(1) // one listener in all
  })

  it('aborts every open window with the parent, and starts aborted once the parent is', () => {
    const parent = new AbortController()
    const d = new SharedDeadline(parent.signal, 1_000, 10)
    const a = d.signal()
    vi.advanceTimersByTime(20)
    const b = d.signal()
    const reason = new Error('stopping')
    parent.abort(reason)
    expect([a.reason, b.reason]).toEqual([reason, reason])
    vi.advanceTimersByTime(20)
    expect(d.signal().reason).toBe(reason)
  })
})

describe('raceSignal', () => {
  it('passes the promise through when there is no signal', async () => {
    await expect(raceSignal(Promise.resolve(7))).resolves.toBe(7)
    const err = new Error('inner')
    await expect(raceSignal(Promise.reject(err))).rejects.toBe(err)
  })

  it('resolves with the promise and removes its listener', async () => {
    const ctl = new AbortController()
    await expect(raceSignal(Promise.resolve('v'), ctl.signal)).resolves.toBe('v')
    expect(abortListeners(ctl.signal)).toBe(0)
  })

  it('rejects with the promise error and removes its listener', async () => {
    const ctl = new AbortController()
    const err = new Error('inner')
    await expect(raceSignal(Promise.reject(err), ctl.signal)).rejects.toBe(err)
    expect(abortListeners(ctl.signal)).toBe(0)
  })

  it('rejects with the signal reason when the signal aborts first', async () => {
    const ctl = new AbortController()
    const pending = new Promise<never>(() => {})
    const raced = raceSignal(pending, ctl.signal)
    expect(abortListeners(ctl.signal)).toBe(1)
    const reason = new Error('cancelled')
    ctl.abort(reason)
    await expect(raced).rejects.toBe(reason)
    expect(abortListeners(ctl.signal)).toBe(0)
  })

  it('turns a non-Error abort reason into an AbortError', async () => {
    const ctl = new AbortController()
    const raced = raceSignal(new Promise<never>(() => {}), ctl.signal)
    ctl.abort('just a string')
    const err: unknown = await raced.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AbortError)
    expect((err as AbortError).code).toBe('ABORTED')
  })

  it('rejects at once with the reason of an already aborted signal', async () => {
    const reason = new Error('already')
    await expect(raceSignal(new Promise<never>(() => {}), AbortSignal.abort(reason))).rejects.toBe(reason)
  })

  it('a DOM-style default abort reason passes through unchanged', async () => {
    const ctl = new AbortController()
    const raced = raceSignal(new Promise<never>(() => {}), ctl.signal)
    ctl.abort()
    const err: unknown = await raced.catch((e: unknown) => e)
    expect(err).toBe(ctl.signal.reason)
    expect((err as Error).name).toBe('AbortError')
  })
})

describe('throwIfAborted', () => {
  it('does nothing without a signal or with a live one', () => {
    expect(() => { throwIfAborted() }).not.toThrow()
    expect(() => { throwIfAborted(new AbortController().signal) }).not.toThrow()
  })

  it('throws the reason, or an AbortError for a non-Error reason', () => {
    const reason = new TimeoutError('t')
    expect(() => { throwIfAborted(AbortSignal.abort(reason)) }).toThrow(reason)
    expect(() => { throwIfAborted(AbortSignal.abort(42)) }).toThrow(AbortError)
  })
})
