import { PeriodicTask, createLogger, isCfsError, keyFromHex, shortHex, throwIfAborted, toHex, type AbortOptions, type ComponentLogger, type Key, type Logger, type Startable } from '../core/index.js'
import { BlockKind, decodeRoot, type BlockMeta, type BlockStore } from '../dhash/index.js'
import { rootRecordCodec } from '../fs/index.js'
import { MAX_STATUS_VOLUMES, type VolumeStatus } from './status.js'

/** Milliseconds between checks of the roots a node holds. */
export const DEFAULT_HELD_ROOTS_INTERVAL_MS = 1_000

export interface HeldRootsComponents {
  /** The node's replica store. */
  blocks: Pick<BlockStore, 'keys' | 'getMeta' | 'get'>
  /** The replica store's upcall after each write (ReplicaStore.onStored). */
  onStored: (listener: (key: Key, meta: BlockMeta) => void) => () => void
  /** @default Date.now */
  now?: () => number
  logger?: ComponentLogger
}

export interface HeldRootsInit {
  /** Milliseconds between checks; 0 = no timer (the caller runs checkOnce). @default DEFAULT_HELD_ROOTS_INTERVAL_MS */
  intervalMs?: number
}

interface Entry {
  owner: string
  seq: number
  expiresAt: number
  /** Publication time of `decodedSeq`'s record; undefined until decoded. */
  publishedAt: number | null | undefined
  decodedSeq: number
}

/**
 * The volume roots (signed root blocks) a node holds, for `node.status` and the dashboard.
 * The first check scans the whole store once; after that the store's upcall reports every
 * root written, and each check re-reads only the tracked roots' metadata (dropping those
 * deleted or expired) and decodes the publication time of a new sequence number from the
 * file system's root record (the root's payload). So a check costs one metadata read per
 * root held, whatever the number of content blocks.
 */
export class HeldRoots implements Startable {
  private readonly roots = new Map<string, Entry>()
  private readonly task: PeriodicTask
  private readonly log: Logger
  private readonly now: () => number
  private scanned = false
  private unsubscribe: (() => void) | undefined

  constructor (private readonly components: HeldRootsComponents, init: HeldRootsInit = {}) {
    this.log = (components.logger ?? createLogger()).forComponent('node:roots')
    this.now = components.now ?? Date.now
    this.task = new PeriodicTask({ round: async (o) => this.checkOnce(o), log: this.log }, { name: 'held-roots', intervalMs: init.intervalMs ?? DEFAULT_HELD_ROOTS_INTERVAL_MS })
  }

  async start (): Promise<void> {
    // Every stored block comes through here (1 MiB data blocks included): roots only go further.
    this.unsubscribe ??= this.components.onStored((key, meta) => { if (meta.kind === BlockKind.ROOT) this.track(toHex(key), meta) })
    this.task.start()
  }

  async stop (): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    await this.task.stop()
  }

  /** Held roots, newest publication first (unknown times last), at most MAX_STATUS_VOLUMES. */
  list (): VolumeStatus[] {
    const now = this.now()
    const out: VolumeStatus[] = []
    for (const [key, e] of this.roots) {
      if (e.expiresAt > now) out.push({ key, owner: e.owner, seq: e.seq, publishedAt: e.publishedAt ?? null, expiresAt: e.expiresAt })
    }
    out.sort((a, b) => (b.publishedAt ?? -1) - (a.publishedAt ?? -1) || (a.key < b.key ? -1 : 1))
    return out.slice(0, MAX_STATUS_VOLUMES)
  }

  /** One check: the full scan the first time, then each tracked root's metadata and new publication times. */
  async checkOnce (options: AbortOptions = {}): Promise<void> {
    const { blocks } = this.components
    if (!this.scanned) {
      const top = new Uint8Array(32).fill(255) as Key
      for await (const key of blocks.keys({ from: top, to: top })) {
        throwIfAborted(options.signal)
        const meta = await blocks.getMeta(key)
        if (meta?.kind === BlockKind.ROOT) this.track(toHex(key), meta)
      }
      this.scanned = true
    }
    for (const hex of [...this.roots.keys()]) {
      throwIfAborted(options.signal)
      const key = keyFromHex(hex)
      const meta = await blocks.getMeta(key)
      if (meta === undefined || meta.kind !== BlockKind.ROOT || meta.expiresAt <= this.now()) {
        this.roots.delete(hex)
        continue
      }
      this.track(hex, meta)
      const e = this.roots.get(hex)
      if (e !== undefined && e.decodedSeq !== e.seq) await this.decode(key, hex)
    }
  }

  private track (hex: string, meta: BlockMeta): void {
    if (meta.kind !== BlockKind.ROOT) return
    const e = this.roots.get(hex)
    if (e !== undefined && e.seq > meta.seq) return // an older write reported late
    const same = e !== undefined && e.decodedSeq === meta.seq
    this.roots.set(hex, {
      owner: meta.owner, seq: meta.seq, expiresAt: meta.expiresAt, publishedAt: same ? e.publishedAt : undefined, decodedSeq: same ? e.decodedSeq : 0,
    })
  }

  /** The root record's publication time; null for a root whose payload is not a root record. */
  private async decode (key: Key, hex: string): Promise<void> {
    const block = await this.components.blocks.get(key)
    if (block === undefined) return
    let publishedAt: number | null = null
    try {
      publishedAt = rootRecordCodec.decode(decodeRoot(key, block.bytes).payload, 'root record').timeMs
    } catch (err) {
      if (!isCfsError(err)) throw err
      this.log('root %s: no publication time (%s)', shortHex(key), err.message)
    }
    // Replaced meanwhile by a newer root: the next check decodes that one.
    const e = this.roots.get(hex)
    if (e?.seq === block.seq) Object.assign(e, { publishedAt, decodedSeq: block.seq })
  }
}
