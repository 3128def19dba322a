/**
 * Keeps a repeated log line from flooding: a line about a subject is let through the first
 * time, then at most once per `intervalMs`, saying how many like it were held back. A ring that
 * cannot be reached fails every operation, and a forged peer may retry forever; each says why
 * once.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number, more: number }>()

  constructor (private readonly intervalMs: number, private readonly maxSubjects = 1024) {}

  /**
   * Undefined when the line is to be held back; otherwise the suffix to end it with: '' or
   * "; N more like it in the last S s".
   */
  admit (subject: string): string | undefined {
    const now = performance.now()
    const last = this.last.get(subject)
    if (last !== undefined && now - last.at < this.intervalMs) {
      last.more++
      return undefined
    }
    const suffix = last === undefined || last.more === 0 ? '' : `; ${last.more} more like it in the last ${Math.round((now - last.at) / 1000)} s`
    this.last.delete(subject) // re-inserted last: the oldest subject is dropped first
    if (this.last.size >= this.maxSubjects) this.last.delete(this.last.keys().next().value as string)
    this.last.set(subject, { at: now, more: 0 })
    return suffix
  }
}
