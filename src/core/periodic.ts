import { isCfsError } from './errors.js'
import type { Logger } from './logger.js'

/**
 * Runs `round` every `intervalMs` (with up to 20% jitter so nodes do not synchronize), one round
 * at a time, until stopped. An interval of 0 disables the timer: tests call the round themselves.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined
  private running = false
  private stopped = true

  constructor (
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly round: () => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  start (): void {
    if (!this.stopped || this.intervalMs <= 0) return
    this.stopped = false
    this.schedule()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule (): void {
    if (this.stopped) return
    const delay = this.intervalMs * (0.8 + Math.random() * 0.4)
    this.timer = setTimeout(() => { void this.fire() }, delay)
    this.timer.unref()
  }

  private async fire (): Promise<void> {
    if (this.running || this.stopped) return
    this.running = true
    try {
      await this.round()
    } catch (err) {
      if (!isCfsError(err, 'ABORTED') && !isCfsError(err, 'SHUTTING_DOWN')) this.log.error('%s round failed: %o', this.name, err)
    } finally {
      this.running = false
      this.schedule()
    }
  }
}
