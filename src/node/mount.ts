import { createHash } from 'node:crypto'
import { readFile, rm, statfs, writeFile, mkdir, realpath } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createLogger, toHex, type AbortOptions } from '../core/index.js'
import { DEFAULT_REPLICAS } from '../dhash/index.js'
import type { FileSystem, VersionInfo } from '../fs/index.js'
import { CfsFuse, DEFAULT_OP_TIMEOUT_MS, LatestView, mountCfs, type Mounted, type SpaceInfo, type VersionSource } from '../fuse/index.js'
import { defaultDataDir, embeddedNodeDir, type BlockAccess, type BlockAccessInit } from './block-access.js'
import { HttpStatusServer } from './http-status.js'
import type { OwnerKey } from './key-file.js'
import { PromMetrics } from './metrics.js'
import { isAlive } from './pid-file.js'
import type { LinkInit } from './link.js'
import { queryRing } from './status-client.js'
import { openReader, openVolume } from './volumes.js'

export interface MountVolumeInit extends BlockAccessInit {
  /** The mount point: an empty directory. */
  dir: string
  /** The owner's key: a read-write mount of the owner's volume. */
  key?: OwnerKey
  /** Someone's public key: a read-only mount. */
  publicKey?: Uint8Array
  /** With `publicKey`: this version only (immutable, cached by the kernel); omitted: follow the latest. */
  version?: number
  /** Milliseconds within which a change to a read-write mount is published. @default DEFAULT_PUBLISH_INTERVAL_MS (the Volume's) */
  publishIntervalMs?: number
  /** Deadline of one operation (EIO after it). @default DEFAULT_OP_TIMEOUT_MS (CfsFuse's) */
  opTimeoutMs?: number
  /** Deadline of one publication: fsync, flush with syncOnClose (EIO after it). @default DEFAULT_SYNC_TIMEOUT_MS (CfsFuse's) */
  syncTimeoutMs?: number
  /** Holders each block and root must reach for fsync to succeed. @default openVolume's */
  minReplicas?: number
  /** close() of a written file publishes before it returns, as fsync does. @default false */
  syncOnClose?: boolean
  /**
   * A read-write mount keeps its unpublished changes in the volume's journal under `data`
   * (journal-dir.ts), so an outage of the ring, a restart or a kill -9 loses none. @default true
   */
  journal?: boolean
  /** Milliseconds between looks for a newer version of a read-only mount. @default DEFAULT_POLL_INTERVAL_MS (LatestView's) */
  pollIntervalMs?: number
  /** A read-only mount is also told of new versions by the root's holders (dhash.watch), besides polling. @default true */
  watch?: boolean
  /** Let other users in (with the kernel checking modes). @default false */
  allowOther?: boolean
  /** Unmount when the process dies (auto_unmount). @default true */
  autoUnmount?: boolean
  /** libfuse's request trace on stderr. @default false */
  debug?: boolean
  /**
   * "host:port" of a read-only HTTP endpoint for this process: GET /metrics (FUSE, the volume's
   * publications, and the embedded node's or ring client's block layer), and with an embedded
   * node its GET /status and /keys. @default none
   */
  http?: string
}

/** A mounted volume, served by this process. */
export interface VolumeMount {
  readonly dir: string
  readonly readOnly: boolean
  /** "embedded node at DIR (...)" or "ring via HOST:PORT". */
  readonly description: string
  readonly publicKey: Uint8Array
  /** The version shown, for a read-only mount of one version. */
  readonly version: VersionInfo | undefined
  /** Where the HTTP endpoint listens, if `http` asked for one. */
  readonly httpAddress: string | undefined
  /** Publishes, unmounts, publishes what raced the unmount, and closes the volume and the blocks. */
  close: () => Promise<void>
}

/**
 * Mounts a volume: the owner's, read-write (its Volume publishes within `publishIntervalMs` of
 * a change, and before fsync answers), or anyone's by public key, read-only.
 */
export async function mountVolume (init: MountVolumeInit): Promise<VolumeMount> {
  const logger = createLogger('mount')
  const log = logger.forComponent('node:mount')
  const dir = resolve(init.dir)
  const metrics = init.http === undefined ? undefined : new PromMetrics()
  const access: BlockAccessInit = {
    ...(init.ring === undefined ? {} : { ring: init.ring }),
    ...(init.data === undefined ? {} : { data: init.data }),
    ...(init.replicas === undefined ? {} : { replicas: init.replicas }),
    ...(init.listen === undefined ? {} : { listen: init.listen }),
    ...(init.advertise === undefined ? {} : { advertise: init.advertise }),
    ...(metrics === undefined ? {} : { metrics }),
    ...(init.link === undefined ? {} : { link: init.link }),
  }
  let fs: FileSystem
  let sync: ((options?: AbortOptions) => Promise<void>) | undefined
  let versions: VersionSource
  let blocks: BlockAccess
  /** Set once the tree is open; a followed volume that moves before then has nothing cached to drop. */
  const kernel: { fuse?: CfsFuse } = {}
  let closeTree: () => Promise<void>
  let publicKey: Uint8Array
  let version: VersionInfo | undefined
  let uploaded = (): number => 0
  /**
   * The publications at unmount wait at most an operation's deadline when a journal keeps
   * what they could not publish (the next mount publishes it); without one, as long as fsync.
   */
  const journaled = init.key !== undefined && (init.journal ?? true)
  const atUnmount = (): AbortOptions => journaled ? { signal: AbortSignal.timeout(init.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS) } : {}
  if (init.key !== undefined) {
    const owned = await openVolume({
      ...access,
      key: init.key,
      journal: init.journal ?? true,
      volume: {
        ...(init.publishIntervalMs === undefined ? {} : { publishIntervalMs: init.publishIntervalMs }),
        ...(init.minReplicas === undefined ? {} : { minReplicas: init.minReplicas }),
      },
    })
    const volume = owned.volume
    fs = volume
    sync = async (options) => { await volume.sync(options) }
    versions = {
      versions: (options) => volume.versions(options),
      snapshot: async (seq, options) => volume.snapshot(seq, options),
      latestSeq: () => volume.stats.seq,
    }
    blocks = owned.access
    publicKey = init.key.publicKey
    closeTree = async () => { await owned.close(atUnmount()) }
    uploaded = () => volume.stats.uploads.bytes
  } else if (init.publicKey !== undefined) {
    const ro = await openReader({ ...access, publicKey: init.publicKey, ...(init.version === undefined ? {} : { version: init.version }) })
    publicKey = init.publicKey
    blocks = ro.access
    if (init.version === undefined) {
      const latest = await LatestView.open(
        // Attributes and pages the kernel holds of what the new version changed are dropped.
        { reader: ro.reader, publicKey, logger, onMoved: async (changes) => { await kernel.fuse?.invalidate(changes.paths) } },
        { ...(init.pollIntervalMs === undefined ? {} : { pollIntervalMs: init.pollIntervalMs }), watch: init.watch ?? true },
      )
        .catch(async (err: unknown) => { await ro.close(); throw err })
      await latest.start()
      fs = latest
      versions = latest
      closeTree = async () => { await latest.stop(); await ro.close() }
    } else {
      fs = ro.fs
      version = ro.version
      versions = {
        versions: (options) => ro.reader.versions(publicKey, options),
        snapshot: async (seq, options) => ro.reader.version(publicKey, seq, options),
      }
      closeTree = async () => { await ro.close() }
    }
  } else {
    throw new TypeError('mount needs a key (read-write) or a public key (read-only)')
  }
  const ringSpace = init.ring === undefined ? undefined : new RingSpace(init.ring, init.replicas ?? DEFAULT_REPLICAS, init.link)
  const fuse = new CfsFuse({
    fs,
    ...(sync === undefined ? {} : { sync }),
    versions,
    space: async () => space(blocks, init.data, uploaded(), ringSpace),
    logger,
    metrics,
  }, {
    syncOnClose: init.syncOnClose === true,
    ...(init.opTimeoutMs === undefined ? {} : { opTimeoutMs: init.opTimeoutMs }),
    ...(init.syncTimeoutMs === undefined ? {} : { syncTimeoutMs: init.syncTimeoutMs }),
  })
  kernel.fuse = fuse
  let http: HttpStatusServer | undefined
  let mounted: Mounted
  try {
    if (init.http !== undefined) {
      const node = blocks.node
      const served = node === undefined ? { metrics } : { metrics, status: () => node.status(), blocks: node.dhash.store.blocks }
      http = new HttpStatusServer(served, { listen: init.http })
      await http.start()
    }
    mounted = await mountCfs(dir, fuse, {
      immutable: init.publicKey !== undefined && init.version !== undefined,
      soleWriter: init.key !== undefined,
      allowOther: init.allowOther === true,
      autoUnmount: init.autoUnmount ?? true,
      debug: init.debug === true,
      fsname: `cfs:${toHex(publicKey).slice(0, 16)}`,
      logger,
    })
  } catch (err) {
    await http?.stop()
    await closeTree()
    throw err
  }
  let closing: Promise<void> | undefined
  return {
    dir: mounted.dir,
    readOnly: sync === undefined,
    description: blocks.description,
    publicKey,
    version,
    httpAddress: http?.address,
    close: async () => {
      closing ??= (async () => {
        const errors: unknown[] = []
        const step = async (what: string, f: () => Promise<void>): Promise<void> => {
          const started = performance.now()
          try { await f() } catch (err) { errors.push(err) }
          log('%s: %d ms', what, Math.round(performance.now() - started))
        }
        if (sync !== undefined) {
          await step('published', async () => {
            try {
              await sync(atUnmount())
            } catch (err) {
              if (journaled) log.error('unmount: not published (%s); the changes wait in the journal under the data directory, and the next mount of this volume publishes them', (err as Error).message)
              throw err
            }
          })
        }
        await step('unmounted', async () => { await mounted.unmount() })
        await step('closed open files', async () => { await fuse.close() })
        if (http !== undefined) await step('stopped the HTTP endpoint', async () => { await http?.stop() })
        await step('closed the volume and the blocks', closeTree) // publishes whatever raced the unmount
        if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]))
      })()
      return closing
    },
  }
}

/** Milliseconds a ring's capacity and use, as df shows them, are reused before asking again. */
export const RING_SPACE_FRESH_MS = 5_000
/** How long df waits for the ring's answer before it shows the last one (or a nominal size). */
export const RING_SPACE_TIMEOUT_MS = 2_000

/**
 * The ring's capacity and use as the node a mount talks to sees them (node.ring: the nodes it
 * reaches, at most 64), divided by k since every block is held k times: what df shows for a
 * mount through a ring. Asked again after RING_SPACE_FRESH_MS; a ring that does not answer
 * in RING_SPACE_TIMEOUT_MS leaves the last answer in place.
 */
class RingSpace {
  private last: { at: number, info: SpaceInfo | undefined } | undefined
  private asking: Promise<SpaceInfo | undefined> | undefined

  constructor (private readonly ring: string, private readonly k: number, private readonly link: LinkInit | undefined) {}

  async get (): Promise<SpaceInfo | undefined> {
    if (this.last !== undefined && Date.now() - this.last.at < RING_SPACE_FRESH_MS) return this.last.info
    this.asking ??= this.ask().finally(() => { this.asking = undefined })
    return this.asking
  }

  private async ask (): Promise<SpaceInfo | undefined> {
    try {
      const { summary } = await queryRing(this.ring, { timeoutMs: RING_SPACE_TIMEOUT_MS, ...(this.link === undefined ? {} : { link: this.link }) })
      const info = summary.capacity > 0
        ? { totalBytes: Math.floor(summary.capacity / this.k), freeBytes: Math.floor(Math.max(0, summary.capacity - summary.bytes) / this.k) }
        : undefined
      this.last = { at: Date.now(), info }
      return info
    } catch {
      return this.last?.info
    }
  }
}

/**
 * statfs: an embedded node reports what it stores as used and the free space of its data
 * directory's file system as available; through a ring, the capacity and use of the nodes
 * the ring's node reaches, over k (RingSpace), or, when none reports a capacity, a nominal
 * 1 TiB less what this mount uploaded.
 */
async function space (blocks: BlockAccess, data: string | undefined, uploadedBytes: number, ring: RingSpace | undefined): Promise<SpaceInfo> {
  const node = blocks.node
  if (node === undefined) {
    const known = await ring?.get()
    if (known !== undefined) return known
    const total = 2 ** 40
    return { totalBytes: total, freeBytes: Math.max(0, total - uploadedBytes) }
  }
  const s = await statfs(embeddedNodeDir(data))
  const used = node.dhash.stats().store.bytes
  const free = s.bfree * s.bsize
  const avail = s.bavail * s.bsize
  return { totalBytes: used + free, freeBytes: free, availableBytes: avail, files: s.files, freeFiles: s.ffree }
}

// ---- which process serves which mount point (for `cfs unmount`) ----

/** What a serving process leaves under the data directory while it runs. */
export interface MountRecord {
  readonly pid: number
  readonly dir: string
  readonly readOnly: boolean
  readonly publicKey: string
  readonly startedAt: string
}

function recordFile (dir: string): string {
  const id = createHash('sha256').update(dir).digest('hex').slice(0, 16)
  return join(defaultDataDir(), 'mounts', `${id}.json`)
}

export async function writeMountRecord (m: VolumeMount): Promise<void> {
  const file = recordFile(m.dir)
  await mkdir(join(file, '..'), { recursive: true })
  const record: MountRecord = { pid: process.pid, dir: m.dir, readOnly: m.readOnly, publicKey: toHex(m.publicKey), startedAt: new Date().toISOString() }
  await writeFile(file, JSON.stringify(record) + '\n')
}

export async function removeMountRecord (dir: string): Promise<void> {
  await rm(recordFile(dir), { force: true })
}

/** The record of the process serving `dir`, if one is running. */
export async function findMountRecord (dir: string): Promise<MountRecord | undefined> {
  const abs = await realpath(dir).catch(() => resolve(dir))
  for (const d of new Set([abs, resolve(dir)])) {
    let record: MountRecord
    try {
      record = JSON.parse(await readFile(recordFile(d), 'utf8')) as MountRecord
    } catch {
      continue
    }
    if (await isAlive(record.pid)) return record
    await removeMountRecord(d)
  }
  return undefined
}

/** Whether `dir` is a mount point of a cfs file system, per /proc/self/mountinfo. */
export async function isCfsMounted (dir: string): Promise<boolean> {
  let info: string
  try {
    info = await readFile('/proc/self/mountinfo', 'utf8')
  } catch {
    return false
  }
  const want = resolve(dir)
  return info.split('\n').some((line) => {
    const [left, right] = line.split(' - ')
    const point = left?.split(' ')[4]
    return point !== undefined && unescapeMountPath(point) === want && (right?.startsWith('fuse.cfs ') ?? false)
  })
}

function unescapeMountPath (p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}
