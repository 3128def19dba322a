import { toHex, type AbortOptions, type Key } from '../core/index.js'
import type { TreeStore } from './tree-store.js'
import { walk, type WalkStart } from './walk.js'

/**
 * The blocks `drop` reaches and `keep` does not: what an owner may release once it stops
 * keeping the versions `drop` starts at. Every block `keep` reaches is walked first (as a
 * refresh walks them); then `drop` is walked, stopping at every block `keep` reaches: equal
 * keys are equal contents, so nothing below such a block can be released either. Blocks that
 * are gone already (released or expired) are skipped. `alsoKeep`: hex keys to keep besides
 * (blocks pinned by a streaming write).
 */
export async function unreachableBlocks (
  store: TreeStore,
  keep: readonly WalkStart[],
  drop: readonly WalkStart[],
  alsoKeep: Iterable<string>,
  options: AbortOptions = {},
): Promise<Key[]> {
  const kept = new Set<string>(alsoKeep)
  await walk(store, keep, (key) => {
    const hex = toHex(key)
    if (kept.has(hex)) return false
    kept.add(hex)
    return true
  }, { ...options, onMissing: () => {} })
  const out: Key[] = []
  const seen = new Set<string>()
  await walk(store, drop, (key) => {
    const hex = toHex(key)
    if (kept.has(hex) || seen.has(hex)) return false
    seen.add(hex)
    out.push(key)
    return true
  }, { ...options, onMissing: () => {} })
  return out
}

/** Older versions a release looks at past those kept: the chain beyond was released before (or expired). */
export const MAX_RELEASE_VERSIONS = 64

/** What a release did. */
export interface ReleaseReport {
  /** Past versions no longer kept, whose blocks were looked at. */
  readonly versions: number
  /** Blocks only they reached, asked to be dropped. */
  readonly blocks: number
  /** Copies the holders dropped. */
  readonly released: number
  /** Holders that could not be asked. */
  readonly failed: number
}

export interface ReleaseInput {
  readonly store: TreeStore
  /** The block layer's release, bound to the owner's key and lease. */
  readonly release: (keys: readonly Key[]) => Promise<{ released: number, failed: number }>
  /** Root records of the published versions, newest first (versionChain). */
  readonly records: AsyncIterable<Key>
  /** How many of them to keep (the newest, plus `keepPast` before it). */
  readonly keepPast: number
  /** Blocks in no version at all (put for changes undone before they were published), released too unless kept. */
  readonly orphans?: readonly Key[]
  /** Trees kept besides the kept versions: the current one (unpublished changes), one being published, open unlinked files. */
  readonly alsoKeep: readonly WalkStart[]
  /** Hex keys kept besides (pinned by a streaming write). */
  readonly pinned: Iterable<string>
}

/**
 * Releases the blocks that only versions older than the kept ones reach (at most
 * MAX_RELEASE_VERSIONS of them), their root records included: the version chain then ends at
 * the oldest kept version.
 */
export async function releaseOldVersions (input: ReleaseInput, options: AbortOptions = {}): Promise<ReleaseReport> {
  const kept: WalkStart[] = []
  const dropped: WalkStart[] = []
  for await (const key of input.records) {
    if (kept.length <= input.keepPast) kept.push({ key, role: 'record' })
    else dropped.push({ key, role: 'record' })
    if (dropped.length >= MAX_RELEASE_VERSIONS) break
  }
  const orphans = input.orphans ?? []
  if (dropped.length === 0 && orphans.length === 0) return { versions: 0, blocks: 0, released: 0, failed: 0 }
  const keys = await unreachableBlocks(input.store, [...kept, ...input.alsoKeep], [
    ...dropped, ...orphans.map((key): WalkStart => ({ key, role: 'data' })),
  ], input.pinned, options)
  const r = keys.length === 0 ? { released: 0, failed: 0 } : await input.release(keys)
  return { versions: dropped.length, blocks: keys.length, released: r.released, failed: r.failed }
}
