import { PeriodicTask, type AbortOptions, type Key, type Logger } from '../core/index.js'
import type { BlockService } from '../dhash/index.js'
import { refreshBlocks, type RefreshReport } from './refresh.js'
import type { TreeStore } from './tree-store.js'
import { versionChain, type SignedRoot } from './versions.js'
import type { VolumeReleaser } from './volume-release.js'
import type { BlockRole } from './walk.js'

/** Milliseconds between lease renewals of every block the kept versions reach: well under the lease (7 days). */
export const DEFAULT_LEASE_REFRESH_INTERVAL_MS = 6 * 60 * 60 * 1000

/** What lease renewal needs of its volume (volume.ts). */
export interface VolumeRefresherComponents {
  blocks: Pick<BlockService, 'refresh' | 'put'>
  store: TreeStore
  /** Bytes of a block if the volume still holds them: buffered, or in the reader's caches (heldBytes). */
  held: (key: Key, role: BlockRole) => Uint8Array | undefined
  /** The last version published. */
  published: () => SignedRoot | undefined
  /** Where the signed root is. */
  rootKey: Key
  releaser: Pick<VolumeReleaser, 'releaseOld'>
  log: Logger
}

export interface VolumeRefresherInit {
  /** Past versions (besides the current one) kept alive; older ones are released after each round. */
  keepVersions: number
  /** Milliseconds between rounds; 0 = no timer. @default DEFAULT_LEASE_REFRESH_INTERVAL_MS */
  intervalMs?: number
  /** Hex public key a block put back is accounted to. */
  owner: string
  /** Lease asked for on refresh and on puts back. @default the BlockService's */
  leaseMs?: number
}

/**
 * The volume's lease renewal (CFS): blocks live only as long as their leases, so an owner that
 * stays up (a mount, cfs backup --every) renews every block of the current version and of
 * `keepVersions` past ones on a timer, and puts back a lost block if it still holds it. Versions
 * past those kept are no longer refreshed: each round then releases their own blocks.
 */
export class VolumeRefresher {
  private readonly timer: PeriodicTask

  constructor (private readonly components: VolumeRefresherComponents, private readonly init: VolumeRefresherInit) {
    this.timer = new PeriodicTask({
      round: async (options) => {
        const report = await this.refresh(options)
        if (report.lost.length > 0) components.log.error('refresh: %d block(s) lost on every replica', report.lost.length)
        await components.releaser.releaseOld(init.keepVersions, options)
      },
      log: components.log,
    }, { name: 'refresh', intervalMs: init.intervalMs ?? DEFAULT_LEASE_REFRESH_INTERVAL_MS, jitter: 0.2 })
  }

  start (): void {
    this.timer.start()
  }

  /** Disarms the timer and waits for a round in flight to end. */
  async stop (): Promise<void> {
    await this.timer.stop()
  }

  /**
   * Extends the leases of every block of the current version and of `keepVersions` past
   * ones, and puts back what went missing if the volume still has the bytes.
   */
  async refresh (options: AbortOptions = {}): Promise<RefreshReport> {
    const published = this.components.published()
    if (published === undefined) return { refreshed: 0, restored: 0, lost: [] }
    const records: Key[] = []
    const keep = this.init.keepVersions + 1
    for await (const v of versionChain(this.components.store, published.record, published.recordKey, options)) {
      records.push(v.recordKey)
      if (records.length >= keep) break
    }
    return refreshBlocks({
      blocks: this.components.blocks,
      store: this.components.store,
      held: this.components.held,
      records,
      root: { key: this.components.rootKey, bytes: published.bytes },
      owner: this.init.owner,
      ...(this.init.leaseMs === undefined ? {} : { leaseMs: this.init.leaseMs }),
    }, options)
  }
}
