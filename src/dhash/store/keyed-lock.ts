/**
 * Runs tasks one at a time per key, different keys in parallel. The Level store reads a
 * block's old metadata before writing the new; two interleaved writers of one key would
 * otherwise both count the old block and leave stats and the expiry index wrong.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>()

  async run<T> (key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    const result = previous.then(task)
    const tail = result.catch(() => {})
    this.tails.set(key, tail)
    try {
      return await result
    } finally {
      // The last task of a key removes its entry, so the map holds only keys in use.
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }
}
