/**
 * Runs tasks one at a time in arrival order. The volume's root pointer changes only inside
 * it, so two operations never start from the same tree and lose one's change (the Helia mfs
 * lost-update hazard).
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve()

  async run<T> (task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task)
    this.tail = result.catch(() => {})
    return result
  }
}
