import { AbortError, TimeoutError } from '../core/index.js'

interface Call { fail: (err: Error) => void }

/**
 * The calls a transport has in flight, each under its own deadline. stop() fails them all at
 * once. No listener is hung on a shared long-lived signal per call: Node's EventTarget checks
 * for duplicate listeners linearly, so thousands of concurrent calls would go quadratic.
 */
export class PendingCalls {
  private readonly calls = new Set<Call>()

  get size (): number { return this.calls.size }

  /** Settles with `promise`, or rejects with TimeoutError after `timeoutMs`, or with the signal's reason. */
  async track<T> (promise: Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) {
      promise.catch(() => {}) // the call is abandoned; its later failure must not go unhandled
      throw abortReason(signal)
    }
    return new Promise<T>((resolve, reject) => {
      let done = false
      const finish = (): boolean => {
        if (done) return false
        done = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.calls.delete(call)
        return true
      }
      const call: Call = { fail: (err) => { if (finish()) reject(err) } }
      const onAbort = (): void => { call.fail(abortReason(signal)) }
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => { call.fail(new TimeoutError(`no answer within ${timeoutMs} ms`)) }, timeoutMs)
        : undefined
      signal?.addEventListener('abort', onAbort, { once: true })
      this.calls.add(call)
      promise.then((v) => { if (finish()) resolve(v) }, (err: Error) => { call.fail(err) })
    })
  }

  failAll (err: Error): void {
    for (const c of [...this.calls]) c.fail(err)
  }
}

function abortReason (signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason
  return r instanceof Error ? r : new AbortError('operation aborted')
}
