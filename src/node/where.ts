import { BadRequestError, EntryNotFoundError, toHex, type AbortOptions, type Key } from '../core/index.js'
import { BlockKind, rootKey, type HolderAnswer, type ReplicaCheck, type ReplicaHealth } from '../dhash/index.js'
import { listPathBlocks, type EntryType, type ListedBlock, type ListedRole, type VersionInfo } from '../fs/index.js'
import { DEFAULT_SNAPSHOTS_DIR, timeName } from '../fuse/index.js'
import type { BlockAccessInit } from './block-access.js'
import { openReader } from './volumes.js'

export interface WhereInit extends BlockAccessInit {
  publicKey: Uint8Array
  /**
   * A path of the volume. Under `/.snapshots/<seq>/` (or `/.snapshots/<time>/`, the link's
   * name) it is a path of that version's tree, as in a mount.
   */
  path: string
  /** A past version by sequence number (not with a `.snapshots` path). @default the latest */
  version?: number
  /** Holders asked at once. @default DEFAULT_CHECK_CONCURRENCY (dhash replica-check.ts) */
  concurrency?: number
  /** Milliseconds one holder has to answer. @default DEFAULT_CHECK_TIMEOUT_MS (dhash replica-check.ts) */
  timeoutMs?: number
}

export interface WhereHolder {
  readonly address: string
  /** Id (hex) of the vnode that holds the key for this endpoint. */
  readonly id: string
  readonly vnode: number
  readonly answer: HolderAnswer
  readonly error?: string
}

/** One block of the path with its replicas. Keys and ids are hex. */
export interface WhereBlock extends Omit<ListedBlock, 'key' | 'role'> {
  readonly key: string
  readonly kind: 'root' | 'content'
  /** 'root' is the signed root; the others as in ListedBlock (fs path-blocks.ts). */
  readonly role: 'root' | ListedRole
  readonly holders: readonly WhereHolder[]
  /** Holders that answered that they hold it, of `wanted`. */
  readonly have: number
  readonly wanted: number
  readonly health: ReplicaHealth
  /** One line: '3/3 replicas', '2/3: repairing', '0/3: lost', '1/3: the ring has 1 node'. */
  readonly verdict: string
}

export interface WhereReport {
  /** The path as asked. */
  readonly path: string
  /** The path within the version's tree (without `/.snapshots/<seq>`). */
  readonly treePath: string
  readonly publicKey: string
  readonly version: { readonly seq: number, readonly timeMs: number, readonly recordKey: string }
  /** Undefined when a block on the way could not be read. */
  readonly type?: EntryType
  readonly size?: number
  /** Replicas wanted per block (k). */
  readonly replicas: number
  /** The worst block's. */
  readonly health: ReplicaHealth
  readonly verdict: string
  /** Blocks per health. */
  readonly counts: Readonly<Record<ReplicaHealth, number>>
  /** False when a block could not be read, so the blocks below it are not listed. */
  readonly complete: boolean
  /** The signed root first, then the blocks in reading order (ListedBlock's). */
  readonly blocks: readonly WhereBlock[]
}

/** The worst first: fewer copies, then lost, repairing, short. */
const SEVERITY: Record<ReplicaHealth, number> = { lost: 0, repairing: 1, short: 2, ok: 3 }

/** The verdict of one block (see WhereBlock.verdict). A block no node gave is lost whatever its holders say. */
export function verdictOf (check: Pick<ReplicaCheck, 'have' | 'wanted' | 'health' | 'holders'>, unreadable = false): { health: ReplicaHealth, verdict: string } {
  const n = `${check.have}/${check.wanted}`
  if (unreadable) return { health: 'lost', verdict: check.have === 0 ? `${n}: lost` : `${n}: unreadable` }
  switch (check.health) {
    case 'ok': return { health: 'ok', verdict: `${n} replicas` }
    case 'repairing': return { health: 'repairing', verdict: `${n}: repairing` }
    case 'lost': return { health: 'lost', verdict: `${n}: lost` }
    case 'short': return { health: 'short', verdict: `${n}: the ring has ${check.holders.length} node${check.holders.length === 1 ? '' : 's'}` }
  }
}

/** The block that decides the path's verdict: fewest copies, then the worst health. */
export function worstBlock<T extends Pick<WhereBlock, 'have' | 'health'>> (blocks: readonly T[]): T | undefined {
  let worst: T | undefined
  for (const b of blocks) {
    if (worst === undefined || b.have < worst.have || (b.have === worst.have && SEVERITY[b.health] < SEVERITY[worst.health])) worst = b
  }
  return worst
}

/** Where `/.snapshots/<name>/rest` leads: the version's name and the path in its tree. */
export function snapshotRoute (path: string): { version?: string, treePath: string } {
  const top = `/${DEFAULT_SNAPSHOTS_DIR}`
  if (path !== top && !path.startsWith(`${top}/`)) return { treePath: path }
  const rest = path.slice(top.length + 1)
  if (rest === '') throw new BadRequestError(`name a version: ${top}/<seq>/PATH (cfs log lists them)`)
  const slash = rest.indexOf('/')
  return slash < 0 ? { version: rest, treePath: '/' } : { version: rest.slice(0, slash), treePath: rest.slice(slash) }
}

/**
 * `cfs where`: every block a path of a volume stands on (fs listPathBlocks, after the signed
 * root), the k nodes that should hold each, and which of them answer that they do. It only
 * looks: its reads repair nothing and cache nothing on the way, so what it reports is what the
 * ring did. Seen versions are remembered as for any reader (rollback protection).
 */
export async function where (init: WhereInit, options: AbortOptions = {}): Promise<WhereReport> {
  const route = snapshotRoute(init.path)
  if (route.version !== undefined && init.version !== undefined) throw new BadRequestError('name a past version by --version or by .snapshots, not both')
  const wanted = route.version ?? (init.version === undefined ? undefined : String(init.version))
  const ro = await openReader({
    publicKey: init.publicKey,
    ...(init.ring === undefined ? {} : { ring: init.ring }),
    ...(init.data === undefined ? {} : { data: init.data }),
    ...(init.replicas === undefined ? {} : { replicas: init.replicas }),
    ...(init.link === undefined ? {} : { link: init.link }),
    client: { readRepair: false, cachePathNodes: 0 },
  })
  try {
    const blocks = ro.access.blocks
    let version = ro.version as VersionInfo
    const newerRecords: Key[] = []
    if (wanted !== undefined && !matches(version, wanted)) {
      let found: VersionInfo | undefined
      for await (const v of ro.reader.versions(init.publicKey, options)) {
        if (matches(v, wanted)) { found = v; break }
        if (v.seq < Number(wanted)) break // past a version number (a time name gives NaN: never)
        newerRecords.push(v.recordKey)
      }
      if (found === undefined) throw new EntryNotFoundError(`no readable version ${wanted}`)
      version = found
    }
    const signedKey = rootKey(init.publicKey)
    const root = await blocks.get(BlockKind.ROOT, signedKey, options)
    const listing = await listPathBlocks(blocks, version, route.treePath, { ...options, newerRecords })
    const listed: Array<Omit<ListedBlock, 'key' | 'role'> & { key: Key, kind: 'root' | 'content', role: WhereBlock['role'] }> = [
      { key: signedKey, kind: 'root', role: 'root', part: 'path', of: '/', bytes: root.length },
      ...listing.blocks.map((b) => ({ ...b, kind: 'content' as const })),
    ]
    const checks = await blocks.checkReplicas(listed.map((b) => b.key), {
      ...options,
      ...(init.concurrency === undefined ? {} : { concurrency: init.concurrency }),
      ...(init.timeoutMs === undefined ? {} : { timeoutMs: init.timeoutMs }),
    })
    const out = listed.map(({ key, kind, ...b }, i): WhereBlock => {
      const check = checks[i] as ReplicaCheck
      return {
        key: toHex(key),
        kind,
        ...b,
        holders: check.holders.map((h) => ({
          address: h.node.address, id: h.node.hex, vnode: h.node.vnode, answer: h.answer, ...(h.error === undefined ? {} : { error: h.error }),
        })),
        have: check.have,
        wanted: check.wanted,
        ...verdictOf(check, b.unreadable === true),
      }
    })
    const worst = worstBlock(out) as WhereBlock
    const counts: Record<ReplicaHealth, number> = { ok: 0, repairing: 0, short: 0, lost: 0 }
    for (const b of out) counts[b.health]++
    return {
      path: init.path,
      treePath: route.treePath,
      publicKey: toHex(init.publicKey),
      version: { seq: version.seq, timeMs: version.timeMs, recordKey: toHex(version.recordKey) },
      ...(listing.target === undefined ? {} : { type: listing.target.type, size: listing.target.size }),
      replicas: (checks[0] as ReplicaCheck).wanted,
      health: worst.health,
      verdict: worst.verdict,
      counts,
      complete: listing.complete,
      blocks: out,
    }
  } finally {
    await ro.close()
  }
}

function matches (v: VersionInfo, name: string): boolean {
  return /^[1-9][0-9]*$/.test(name) ? v.seq === Number(name) : timeName(v) === name
}
