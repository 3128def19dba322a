import { deadline } from '../core/index.js'

/**
 * Runs attempts 0, 1, ... of one operation, each on its own holder, in order: the next starts
 * when the one before fails, or when it has gone `delayMs(i)` without an answer while it goes
 * on (a hedged request: a silent holder costs the delay, not a whole RPC deadline). The first
 * attempt to succeed wins and the others are aborted through their signal. Once every attempt
 * has failed, rejects with the error of the last. `signal` aborts them all.
 */
export async function hedged<T> (
  count: number,
  attempt: (i: number, signal: AbortSignal) => Promise<T>,
  delayMs: (i: number) => number,
  signal?: AbortSignal,
): Promise<T> {
  if (count < 1) throw new RangeError('hedged needs an attempt')
  const won = new AbortController()
  const linked = deadline([signal, won.signal], Infinity)
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<T>((resolve, reject) => {
      let next = 0
      let running = 0
      let lastError: Error = new Error('no attempt ran')
      const start = (): void => {
        clearTimeout(timer)
        if (next >= count || linked.signal.aborted) return
        const i = next++
        running++
        if (next < count) timer = setTimeout(start, delayMs(i))
        attempt(i, linked.signal).then((value) => {
          won.abort()
          resolve(value)
        }, (err: unknown) => {
          running--
          lastError = err instanceof Error ? err : new Error(String(err))
          if (next < count && !linked.signal.aborted) start()
          else if (running === 0) reject(lastError)
        })
      }
      start()
    })
  } finally {
    clearTimeout(timer)
    won.abort()
    linked.dispose()
  }
}
