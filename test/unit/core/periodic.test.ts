import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { PeriodicTask, type PeriodicTaskInit } from '../../../src/core/periodic.js'
import type { AbortOptions } from '../../../src/core/abort.js'
import { ShuttingDownError } from '../../../src/core/errors.js'
import type { Logger } from '../../../src/core/logger.js'

// The one timer primitive, on fake timers: every wait is an exact advance of the clock, so
// nothing depends on how busy the machine is.

/** A round the test ends by hand: records each start and its signal. */
function heldRounds (): {
  round: (options: AbortOptions) => Promise<void>
  starts: AbortSignal[]
  /** Ends the oldest round still running. */
  finish: () => void
  running: () => number
} {
  const starts: AbortSignal[] = []
  const pending: Array<() => void> = []
  return {
    starts,
    round: async (options) => {
      starts.push(options.signal as AbortSignal)
      await new Promise<void>((resolve) => { pending.push(resolve) })
    },
    finish: () => { pending.shift()?.() },
    running: () => pending.length,
  }
}

function silentLog (): Logger & { errors: unknown[][] } {
  const errors: unknown[][] = []
  const log = Object.assign(() => {}, { error: (...args: unknown[]) => { errors.push(args) }, trace: () => {}, errors })
  return log
}

function task (round: (options: AbortOptions) => Promise<unknown>, init: PeriodicTaskInit, random?: () => number): PeriodicTask {
  return new PeriodicTask({ round, log: silentLog(), random }, { name: 'test', ...init })
}

/** The `n`th round starts exactly `ms` from now: not at ms - 1, at ms. */
async function expectStartAt (r: { starts: unknown[] }, ms: number, n: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms - 1)
  expect(r.starts).toHaveLength(n - 1)
  await vi.advanceTimersByTimeAsync(1)
  expect(r.starts).toHaveLength(n)
}

/** Whether `p` has settled once every queued microtask and timer at this instant has run. */
async function settled (p: Promise<unknown>): Promise<boolean> {
  let done = false
  void p.then(() => { done = true }, () => { done = true })
  await vi.advanceTimersByTimeAsync(0)
  return done
}

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('PeriodicTask, repeat mode', () => {
  it('runs a round every intervalMs after the previous one ended, never two at once', async () => {
    const r = heldRounds()
    const t = task(r.round, { intervalMs: 100 })
    t.start()
    await expectStartAt(r, 100, 1)
    // The round takes long: no second round begins while it runs.
    await vi.advanceTimersByTimeAsync(1_000)
    expect(r.starts).toHaveLength(1)
    r.finish()
    await expectStartAt(r, 100, 2)
    r.finish()
    await t.stop()
  })

  it('waits within [1 - jitter, 1 + jitter) × intervalMs', async () => {
    const r = heldRounds()
    const draws = [0, 0.999]
    const t = task(r.round, { intervalMs: 1_000, jitter: 0.2 }, () => draws.shift() as number)
    t.start()
    await expectStartAt(r, 800, 1)
    r.finish()
    await expectStartAt(r, 1_199, 2)
    r.finish()
    await t.stop()
  })

  it('stop() aborts the round in flight with ShuttingDownError and resolves only once it has ended', async () => {
    const r = heldRounds()
    const t = task(r.round, { intervalMs: 100 })
    t.start()
    await vi.advanceTimersByTimeAsync(100)
    const signal = r.starts[0] as AbortSignal
    expect(signal.aborted).toBe(false)
    const stopping = t.stop()
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBeInstanceOf(ShuttingDownError)
    expect(await settled(stopping)).toBe(false)
    expect(t.running).toBe(true)
    r.finish()
    expect(await settled(stopping)).toBe(true)
    expect(t.running).toBe(false)
  })

  it('no round starts after stop(), armed or due', async () => {
    const r = heldRounds()
    const t = task(r.round, { intervalMs: 100 })
    t.start()
    await t.stop()
    await vi.advanceTimersByTimeAsync(10_000)
    expect(r.starts).toHaveLength(0)
    expect(t.armed).toBe(false)
    // Stopped while a round runs: its end arms nothing.
    t.start()
    await vi.advanceTimersByTimeAsync(100)
    const stopping = t.stop()
    r.finish()
    await stopping
    await vi.advanceTimersByTimeAsync(10_000)
    expect(r.starts).toHaveLength(1)
  })

  it('stop() is idempotent, and start() again runs rounds with a fresh signal', async () => {
    const r = heldRounds()
    const t = task(r.round, { intervalMs: 100 })
    await t.stop()
    t.start()
    t.start() // a no-op: one timer, not two
    await vi.advanceTimersByTimeAsync(100)
    expect(r.starts).toHaveLength(1)
    const first = t.stop()
    const second = t.stop()
    r.finish()
    await Promise.all([first, second])
    t.start()
    await vi.advanceTimersByTimeAsync(100)
    expect(r.starts).toHaveLength(2)
    expect(r.starts[0]?.aborted).toBe(true)
    expect(r.starts[1]?.aborted).toBe(false)
    r.finish()
    await t.stop()
  })

  it('a failed round is logged and the next one still runs; an aborted one is not logged', async () => {
    const log = silentLog()
    let n = 0
    const t = new PeriodicTask({
      round: async () => {
        n++
        if (n === 1) throw new Error('boom')
        if (n === 2) throw new ShuttingDownError('peer going away')
      },
      log,
    }, { name: 'flaky', intervalMs: 100 })
    t.start()
    await vi.advanceTimersByTimeAsync(300)
    expect(n).toBe(3)
    expect(log.errors).toHaveLength(1)
    expect(log.errors[0]?.[1]).toBe('flaky')
    await t.stop()
  })

  it('intervalMs 0: no timer at all (tests run the rounds themselves)', async () => {
    const r = heldRounds()
    const t = task(r.round, { intervalMs: 0 })
    t.start()
    t.trigger()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(r.starts).toHaveLength(0)
    expect(t.armed).toBe(false)
    await t.stop()
  })
})

describe('PeriodicTask, debounce mode', () => {
  it('arms nothing on start; a burst of triggers runs one round intervalMs after the first', async () => {
    const r = heldRounds()
    const t = task(r.round, { intervalMs: 100, mode: 'debounce' })
    t.start()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(r.starts).toHaveLength(0)
    t.trigger()
    await vi.advanceTimersByTimeAsync(40)
    t.trigger()
    t.trigger()
    await vi.advanceTimersByTimeAsync(59)
    expect(r.starts).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(r.starts).toHaveLength(1)
    r.finish()
    // Rounds do not re-arm by themselves.
    await vi.advanceTimersByTimeAsync(1_000)
    expect(r.starts).toHaveLength(1)
    await t.stop()
  })

  it('re-arms when a round asks (trigger() from inside the round)', async () => {
    let left = 3
    let rounds = 0
    const t: PeriodicTask = task(async () => {
      rounds++
      if (--left > 0) t.trigger() // work remains: once more, intervalMs from now
    }, { intervalMs: 100, mode: 'debounce' })
    t.start()
    t.trigger()
    await vi.advanceTimersByTimeAsync(100)
    expect(rounds).toBe(1)
    await vi.advanceTimersByTimeAsync(99)
    expect(rounds).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(rounds).toBe(2)
    await vi.advanceTimersByTimeAsync(100)
    expect(rounds).toBe(3)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(rounds).toBe(3)
    await t.stop()
  })

  it('a trigger during a long round: the next round begins when it ends, not beside it', async () => {
    const r = heldRounds()
    const t = task(r.round, { intervalMs: 100, mode: 'debounce' })
    t.start()
    t.trigger()
    await vi.advanceTimersByTimeAsync(100)
    expect(r.running()).toBe(1)
    t.trigger() // a change while the first round runs
    await vi.advanceTimersByTimeAsync(500) // its timer fired at +100, during the round
    expect(r.starts).toHaveLength(1)
    expect(r.running()).toBe(1)
    r.finish()
    await vi.advanceTimersByTimeAsync(0)
    expect(r.starts).toHaveLength(2)
    r.finish()
    await t.stop()
  })

  it('a trigger while stopped is ignored; stop() drops a round that was due', async () => {
    const r = heldRounds()
    const t = task(r.round, { intervalMs: 100, mode: 'debounce' })
    t.trigger()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(r.starts).toHaveLength(0)
    t.start()
    t.trigger()
    await vi.advanceTimersByTimeAsync(100)
    t.trigger()
    await vi.advanceTimersByTimeAsync(100) // due: would begin when the first ends
    const stopping = t.stop()
    r.finish()
    await stopping
    await vi.advanceTimersByTimeAsync(1_000)
    expect(r.starts).toHaveLength(1)
  })
})
