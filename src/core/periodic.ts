import { lifetimeController, type AbortOptions } from './abort.js'
import { ShuttingDownError, isCfsError } from './errors.js'
import type { Logger } from './logger.js'

export interface PeriodicTaskComponents {
  /** One round. Its signal aborts when the task stops (with ShuttingDownError). */
  round: (options: AbortOptions) => Promise<unknown>
  log: Logger
  /** Uniform in [0, 1), for the jitter. @default Math.random */
  random?: () => number
}

export interface PeriodicTaskInit {
  /** Names the task in the log. @default 'task' */
  name?: string
  /**
   * Milliseconds from the end of a round (repeat) or from trigger() (debounce) to the next
   * round; 0 = no timer (tests call the round themselves). @default 0
   */
  intervalMs?: number
  /**
   * Random spread of each wait, as a fraction of intervalMs: 0.2 waits [0.8, 1.2) × intervalMs,
   * so that nodes do not synchronize. @default 0
   */
  jitter?: number
  /**
   * 'repeat': a round every intervalMs while started. 'debounce': a round only intervalMs after
   * trigger(); triggers while the timer is armed join that round. @default 'repeat'
   */
  mode?: 'repeat' | 'debounce'
}

/**
 * The one timer of cfs: runs `round` one at a time, either every `intervalMs` (repeat) or
 * `intervalMs` after a trigger() (debounce: a change arms it, the round re-arms it with
 * trigger() while work is left). If the timer fires while a round runs, the next round begins
 * as soon as that one ends. stop() disarms the timer, aborts the signal of the round in flight
 * and resolves once that round has ended: after it resolves no round runs until start().
 * A failed round is logged unless it failed with ABORTED or SHUTTING_DOWN.
 */
export class PeriodicTask {
  private readonly name: string
  private readonly intervalMs: number
  private readonly jitter: number
  private readonly mode: 'repeat' | 'debounce'
  private timer: NodeJS.Timeout | undefined
  /** Present while started: its signal is every round's. */
  private lifetime: AbortController | undefined
  private inflight: Promise<void> | undefined
  /** The timer fired during a round: the next one begins when it ends. */
  private due = false

  constructor (private readonly components: PeriodicTaskComponents, init: PeriodicTaskInit = {}) {
    this.name = init.name ?? 'task'
    this.intervalMs = init.intervalMs ?? 0
    this.jitter = init.jitter ?? 0
    this.mode = init.mode ?? 'repeat'
    if (!(this.intervalMs >= 0)) throw new RangeError('intervalMs must be >= 0')
    if (!(this.jitter >= 0 && this.jitter < 1)) throw new RangeError('jitter must be in [0, 1)')
  }

  /** Whether a round is running now. */
  get running (): boolean { return this.inflight !== undefined }

  /** Whether the timer is armed. */
  get armed (): boolean { return this.timer !== undefined }

  /** Arms the first round (repeat) or accepts triggers (debounce). A no-op when started or when intervalMs is 0. */
  start (): void {
    if (this.lifetime !== undefined || this.intervalMs <= 0) return
    this.lifetime = lifetimeController()
    if (this.mode === 'repeat') this.arm()
  }

  /** Arms one round `intervalMs` from now unless one is armed already; a no-op while stopped. */
  trigger (): void {
    if (this.lifetime === undefined || this.timer !== undefined) return
    this.arm()
  }

  /** Disarms the timer, aborts the round in flight and waits for it to end. Idempotent. */
  async stop (): Promise<void> {
    const lifetime = this.lifetime
    this.lifetime = undefined
    clearTimeout(this.timer)
    this.timer = undefined
    this.due = false
    lifetime?.abort(new ShuttingDownError(`${this.name} stopped`))
    await this.inflight
  }

  private arm (): void {
    const delay = this.intervalMs * (1 - this.jitter + (this.components.random ?? Math.random)() * 2 * this.jitter)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.fire()
    }, delay)
    this.timer.unref()
  }

  private fire (): void {
    if (this.lifetime === undefined) return
    if (this.inflight !== undefined) {
      this.due = true
      return
    }
    const round = this.run(this.lifetime.signal)
    this.inflight = round
    void round.then(() => {
      this.inflight = undefined
      if (this.lifetime === undefined) return
      if (this.due) {
        this.due = false
        this.fire()
      } else if (this.mode === 'repeat' && this.timer === undefined) {
        this.arm()
      }
    })
  }

  /** One round; never rejects. */
  private async run (signal: AbortSignal): Promise<void> {
    try {
      await this.components.round({ signal })
    } catch (err) {
      if (!isCfsError(err, 'ABORTED') && !isCfsError(err, 'SHUTTING_DOWN')) this.components.log.error('%s round failed: %o', this.name, err)
    }
  }
}
