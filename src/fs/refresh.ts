import { isCfsError, toHex, type AbortOptions, type Key } from '../core/index.js'
import type { BlockService } from '../dhash/index.js'
import type { BlockReader } from './block-reader.js'
import { CONTENT_BLOCK, ROOT_BLOCK } from './format.js'
import { walk, type BlockRole, type WalkStart } from './walk.js'
import type { TreeStore, NodeCodec } from './tree-store.js'
import { dirNodeCodec } from './dir-node.js'
import { indirectCodec } from './indirect.js'
import { inodeCodec } from './inode.js'
import { rootRecordCodec } from './root-record.js'

/** What a refresh did. */
export interface RefreshReport {
  /** Distinct blocks whose leases were extended (the signed root included). */
  readonly refreshed: number
  /** Blocks no node had that the volume put again from bytes it still held. */
  readonly restored: number
  /** Blocks no node has and the volume no longer holds: lost, with what lies below them. */
  readonly lost: readonly Key[]
}

export interface RefreshInput {
  readonly blocks: Pick<BlockService, 'refresh' | 'put'>
  readonly store: TreeStore
  /** Bytes of a block if the volume still holds them (heldBytes gives the usual answer). */
  readonly held: (key: Key, role: BlockRole) => Uint8Array | undefined
  /** Root records of the versions to keep alive. */
  readonly records: readonly Key[]
  readonly root: { readonly key: Key, readonly bytes: Uint8Array }
  /** Lease asked for on refresh and on puts back. @default the BlockService's */
  readonly leaseMs?: number
  readonly owner?: string
}

const CODECS: Partial<Record<BlockRole, NodeCodec<any>>> = { // eslint-disable-line @typescript-eslint/no-explicit-any
  record: rootRecordCodec, inode: inodeCodec, dir: dirNodeCodec, indirect: indirectCodec,
}

/**
 * CFS's lease renewal: extends the lease of every block reachable from the given versions
 * (each block once, in one call: the BlockService batches per node), then puts back any block that the BlockService reports
 * missing and whose bytes the volume still has: metadata from the decode cache (its
 * encoding is canonical, so encoding it again gives the same bytes), data from the data
 * cache. The rest is reported.
 */
export async function refreshBlocks (input: RefreshInput, options: AbortOptions = {}): Promise<RefreshReport> {
  /** Every block reached, by hex key, in walk order. */
  const reached = new Map<string, { key: Key, role: BlockRole }>()
  const unreadable: Array<{ key: Key, role: BlockRole }> = []
  const starts: WalkStart[] = input.records.map((key) => ({ key, role: 'record' }))
  await walk(input.store, starts, (key, role) => {
    const hex = toHex(key)
    if (reached.has(hex)) return false
    reached.set(hex, { key, role })
    return true
  }, { ...options, onMissing: (key, role) => unreadable.push({ key, role }) })

  const missing = new Map<string, { key: Key, role: BlockRole }>()
  for (const u of unreadable) missing.set(toHex(u.key), u)
  const result = await input.blocks.refresh([...reached.values()].map((k) => k.key), {
    ...options, ...(input.leaseMs === undefined ? {} : { leaseMs: input.leaseMs }),
  })
  for (const key of result.missing) {
    const hex = toHex(key)
    missing.set(hex, { key, role: reached.get(hex)?.role ?? 'data' })
  }
  const put = { ...options, ...(input.leaseMs === undefined ? {} : { leaseMs: input.leaseMs }), ...(input.owner === undefined ? {} : { owner: input.owner }) }
  const rootResult = await input.blocks.refresh([input.root.key], options)
  let restored = 0
  if (rootResult.missing.length > 0) {
    await input.blocks.put(ROOT_BLOCK, input.root.key, input.root.bytes, put)
    restored++
  }
  const lost: Key[] = []
  for (const { key, role } of missing.values()) {
    const bytes = input.held(key, role)
    if (bytes === undefined) {
      lost.push(key)
      continue
    }
    try {
      await input.blocks.put(CONTENT_BLOCK, key, bytes, put)
      restored++
    } catch (err) {
      if (!isCfsError(err)) throw err
      lost.push(key)
    }
  }
  return { refreshed: reached.size + 1, restored, lost }
}

/** Bytes of a block from the reader's caches: data as read, metadata encoded again. */
export function heldBytes (reader: BlockReader, key: Key, role: BlockRole): Uint8Array | undefined {
  if (role === 'data') return reader.cachedData(key)
  const codec = CODECS[role]
  const value: unknown = codec === undefined ? undefined : reader.cached(key, codec)
  return value === undefined || codec === undefined ? undefined : codec.encode(value)
}
