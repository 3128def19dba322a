/**
 * Runs attempts 0, 1, ... of one operation, each on its own holder, in order: the next starts
 * when the one before fails, or when it has gone `delayMs(i)` without an answer while it goes
 * on (a hedged request: a silent holder costs the delay, not a whole RPC deadline); `onSlow(i)`
 * is told then. The first attempt to succeed wins; the others are left to end on their own
 * (bounded by the caller's signal and their RPC deadline) and their outcomes are ignored, so an
 * operation that is answered at once costs one timer and nothing more. Once every attempt has
 * failed, rejects with the error of the last.
 */
export async function hedged<T> (
  count: number,
  attempt: (i: number) => Promise<T>,
  delayMs: (i: number) => number,
  onSlow: (i: number) => void = () => {},
): Promise<T> {
  if (count < 1) throw new RangeError('hedged needs an attempt')
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<T>((resolve, reject) => {
      let next = 0
      let running = 0
      let done = false
      const start = (): void => {
        clearTimeout(timer)
        if (next >= count || done) return
        const i = next++
        running++
        if (next < count) {
          timer = setTimeout(() => {
            onSlow(i)
            start()
          }, delayMs(i))
        }
        attempt(i).then((value) => {
          done = true
          resolve(value)
        }, (err: unknown) => {
          running--
          if (done) return
          if (next < count) start()
          else if (running === 0) reject(err instanceof Error ? err : new Error(String(err)))
        })
      }
      start()
    })
  } finally {
    clearTimeout(timer)
  }
}
