interface Group<Op> {
  readonly ops: Op[]
  readonly bytes: number
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

/**
 * Group commit: writes that arrive while a batch is being written go out together in the
 * next one. LevelDB pays per write call (a thread-pool hop, its writer lock, a log append), so
 * under concurrent puts a few large batches beat many small ones. Each caller's operations
 * stay in one batch, so they stay atomic; a failed batch fails every caller in it. A lone
 * write is committed at once, with no added latency.
 */
export class GroupCommit<Op> {
  private queue: Array<Group<Op>> = []
  private writing = false

  /**
   * @param commit writes one batch
   * @param maxBatchBytes a batch stops taking groups once it holds this many bytes
   */
  constructor (private readonly commit: (ops: Op[]) => Promise<void>, private readonly maxBatchBytes: number) {}

  /** Resolves once `ops` are written, together with whatever else was waiting. */
  async write (ops: Op[], bytes: number): Promise<void> {
    const written = new Promise<void>((resolve, reject) => { this.queue.push({ ops, bytes, resolve, reject }) })
    if (!this.writing) void this.drain()
    return written
  }

  private async drain (): Promise<void> {
    this.writing = true
    while (this.queue.length > 0) {
      let bytes = 0
      let taken = 0
      while (taken < this.queue.length && (taken === 0 || bytes < this.maxBatchBytes)) {
        bytes += (this.queue[taken] as Group<Op>).bytes
        taken++
      }
      const groups = this.queue.slice(0, taken)
      this.queue = this.queue.slice(taken)
      try {
        await this.commit(groups.flatMap((g) => g.ops))
        for (const g of groups) g.resolve()
      } catch (err) {
        for (const g of groups) g.reject(err)
      }
    }
    this.writing = false
  }
}
