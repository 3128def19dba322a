/**
 * Polls `probe` until `done(value)`, for at most `timeoutMs`; returns the value and the time it
 * took. A probe that throws is tried again; the error is reported if time runs out. Tests wait
 * this way, never with a fixed sleep.
 */
export async function waitFor<T> (
  what: string,
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs: number,
  intervalMs = 200,
): Promise<{ value: T, ms: number }> {
  const started = Date.now()
  let last: T | undefined
  let lastError: unknown
  while (true) {
    try {
      last = await probe()
      if (done(last)) return { value: last, ms: Date.now() - started }
    } catch (err) {
      lastError = err
    }
    if (Date.now() - started > timeoutMs) {
      const detail = last === undefined ? String(lastError) : JSON.stringify(last).slice(0, 2_000)
      throw new Error(`${what}: not done after ${timeoutMs} ms; last: ${detail}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
