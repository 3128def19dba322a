import { keysEqual, type Key, type Logger } from '../core/index.js'
import type { JournalBase, VolumeJournal } from './journal.js'

/**
 * The journal is rewritten (from what still waits) after a publication once it holds this
 * many bytes: a long write appends every block once, and the file shrinks back as the ring
 * acknowledges them.
 */
export const DEFAULT_JOURNAL_REWRITE_BYTES = 256 * 1024 * 1024

/** What a restarted volume takes from its journal. */
export type Resumed =
  | { readonly kind: 'none' }
  /** Changes that waited: the tree to go on from, its blocks, and since when they wait. */
  | { readonly kind: 'resume', readonly top: Key, readonly blocks: ReadonlyArray<readonly [Key, Uint8Array]>, readonly sinceMs: number }
  /** Another writer published since the journal's base: its changes were set aside, not applied. */
  | { readonly kind: 'conflict', readonly seq: number }

/**
 * The volume's side of its journal (journal.ts): it gathers the blocks the write buffer takes,
 * appends them with each change's tree, records publications, rewrites the file when it has
 * grown, and decides at start what the journal still holds.
 */
export class JournalKeeper {
  /** Blocks the write buffer took since the last append. */
  private taken: Array<readonly [Key, Uint8Array]> = []
  /** When the oldest unpublished change was made; undefined when none waits. */
  private waitingSince: number | undefined
  /** The tree of the last record: a change that took no block and left the tree as it was needs none. */
  private lastTop: Key | undefined
  /** Changes taken up from the journal at start wait: their publication is logged. */
  private resumed = false

  constructor (
    private readonly journal: VolumeJournal,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly rewriteBytes = DEFAULT_JOURNAL_REWRITE_BYTES,
  ) {}

  get bytes (): number { return this.journal.bytes }
  get since (): number | undefined { return this.waitingSince }

  /** The write buffer took a block: it goes out with the next change. */
  took (key: Key, bytes: Uint8Array): void {
    this.taken.push([key, bytes])
  }

  /**
   * Reads the journal and says what the volume resumes from, given the version the ring has
   * now (`published`, undefined when there is none).
   */
  async open (published: JournalBase | undefined): Promise<Resumed> {
    const resumed = await this.decide(published)
    this.resumed = resumed.kind === 'resume'
    return resumed
  }

  private async decide (published: JournalBase | undefined): Promise<Resumed> {
    const j = await this.journal.open()
    if (j.torn) this.log.error('journal: the last record was cut short (a crash during a write); the changes before it are kept')
    const last = j.tops.at(-1)
    if (last === undefined) return { kind: 'none' }
    const resumed: Resumed = { kind: 'resume', top: last.top, blocks: [...j.blocks.values()], sinceMs: (j.tops[0] as { timeMs: number }).timeMs }
    const ringSeq = published?.seq ?? 0
    const baseSeq = j.base?.seq ?? 0
    if (ringSeq === baseSeq && (j.base === undefined || published === undefined || keysEqual(published.recordKey, j.base.recordKey))) return resumed
    // The ring moved past the base: by this volume's own publication the journal did not get
    // to record (its tree is one of the journal's), or by another writer's.
    if (published !== undefined && ringSeq > baseSeq) {
      const at = j.tops.findLastIndex((t) => keysEqual(t.top, published.top))
      if (at === j.tops.length - 1) return { kind: 'none' }
      if (at >= 0) return { ...resumed, sinceMs: (j.tops[at + 1] as { timeMs: number }).timeMs }
    }
    if (ringSeq < baseSeq) {
      this.log.error('journal: the ring has version %d, older than the %d this journal builds on; publishing its changes over it', ringSeq, baseSeq)
      return resumed
    }
    return { kind: 'conflict', seq: ringSeq }
  }

  /** Starts the journal afresh from what waits: the published version, the buffered blocks and the current tree. */
  async restart (base: JournalBase | undefined, blocks: Iterable<readonly [Key, Uint8Array]>, top: Key, sinceMs: number | undefined): Promise<void> {
    this.taken = []
    await this.journal.rewrite(base, blocks, top)
    this.lastTop = top
    this.waitingSince = base !== undefined && keysEqual(base.top, top) ? undefined : sinceMs
  }

  /** Appends the blocks taken since the last change, and the tree `top`. */
  async record (top: Key): Promise<void> {
    const blocks = this.taken
    if (blocks.length === 0 && this.lastTop !== undefined && keysEqual(top, this.lastTop)) return
    this.taken = []
    try {
      await this.journal.append(blocks, top)
    } catch (err) {
      // The blocks stay taken: the next change carries them.
      this.taken = [...blocks, ...this.taken]
      throw err
    }
    this.lastTop = top
    this.waitingSince ??= this.now()
  }

  /**
   * Records a publication. `waiting` is what the write buffer still holds and `top` the tree
   * now (changes made during the publication are not in it); once the file has outgrown its
   * bound it is rewritten from those.
   */
  async published (base: JournalBase, waiting: () => Iterable<readonly [Key, Uint8Array]>, top: Key): Promise<void> {
    const done = keysEqual(base.top, top)
    if (this.journal.bytes >= this.rewriteBytes) {
      const before = this.journal.bytes
      await this.restart(base, [...this.taken, ...waiting()], top, this.waitingSince)
      this.log('journal: rewritten after version %d (%d -> %d bytes)', base.seq, before, this.journal.bytes)
    } else {
      await this.journal.published(base)
    }
    if (done && this.resumed) {
      this.log.error('journal: the changes that waited since %s are published (version %d)', new Date(this.waitingSince ?? this.now()).toISOString(), base.seq)
      this.resumed = false
    }
    if (done) this.waitingSince = undefined
  }

  /** Keeps the journal's changes in a file of their own (another writer published over their base). */
  async setAside (seq: number): Promise<string> {
    return this.journal.setAside(`overtaken-by-${seq}`)
  }

  async sync (): Promise<void> {
    await this.journal.sync()
  }

  async close (): Promise<void> {
    await this.journal.close()
  }
}
