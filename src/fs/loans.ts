/**
 * The blocks a read lent views of (FileReadOptions.loans): their memory is used again once the
 * loans end, so the reader copies what it got (a FUSE reply) and then calls end(). Releases
 * added after end() never run: such a block is left to the collector instead of being reused
 * while a late view might still be read.
 */
export class ReadLoans {
  private releases: Array<() => void> = []
  private ended = false

  add (release: () => void): void {
    if (!this.ended) this.releases.push(release)
  }

  /** The views are no longer used: each lent block may be given back. */
  end (): void {
    if (this.ended) return
    this.ended = true
    const releases = this.releases
    this.releases = []
    for (const release of releases) release()
  }
}
