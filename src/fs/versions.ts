import { BlockInvalidError, EntryNotFoundError, hashKey, isCfsError, keysEqual, type AbortOptions, type Key } from '../core/index.js'
import type { BlockService } from '../dhash/index.js'
import { ROOT_BLOCK } from './format.js'
import type { RootVerifier } from './ports.js'
import { rootRecordCodec, type RootRecord } from './root-record.js'
import type { VersionInfo } from './snapshot.js'
import type { TreeStore } from './tree-store.js'

/** A volume's current signed root, checked, with the record it carries. */
export interface SignedRoot {
  readonly record: RootRecord
  readonly recordKey: Key
  /** The root block as stored, for re-putting it when its lease lapses. */
  readonly bytes: Uint8Array
}

/**
 * Fetches and checks the signed root of `publicKey`: the signature and key (again: the
 * BlockService checked them too), then the record inside, whose sequence number must be the
 * signed one. Undefined when the volume has never been published.
 */
export async function fetchRoot (blocks: Pick<BlockService, 'get'>, verifier: RootVerifier, publicKey: Uint8Array, options: AbortOptions = {}): Promise<SignedRoot | undefined> {
  const key = verifier.rootKey(publicKey)
  let bytes: Uint8Array
  try {
    bytes = await blocks.get(ROOT_BLOCK, key, options)
  } catch (err) {
    if (isCfsError(err, 'BLOCK_NOT_FOUND')) return undefined
    throw err
  }
  return checkRoot(verifier, publicKey, bytes)
}

/** Checks root bytes of `publicKey`'s volume, however they came (a get, a watch). */
export function checkRoot (verifier: RootVerifier, publicKey: Uint8Array, bytes: Uint8Array): SignedRoot {
  const root = verifier.decodeRoot(verifier.rootKey(publicKey), bytes)
  if (!keysEqual(root.publicKey, publicKey)) throw new BlockInvalidError('the root is signed by another key')
  const record = rootRecordCodec.decode(root.payload, 'root record')
  if (record.seq !== root.seq) throw new BlockInvalidError(`root record says version ${record.seq}, the signature ${root.seq}`)
  return { record, recordKey: hashKey(root.payload), bytes }
}

export function versionOf (record: RootRecord, recordKey: Key): VersionInfo {
  return { seq: record.seq, timeMs: record.timeMs, recordKey, top: record.top }
}

/**
 * The versions from `latest` back through the `prev` links, newest first. Each record is a
 * content block, so the chain is hash-checked; sequence numbers must fall strictly. The walk
 * ends quietly at the first record whose lease has run out.
 */
export async function * versionChain (store: TreeStore, latest: RootRecord, latestKey: Key, options: AbortOptions = {}): AsyncGenerator<VersionInfo> {
  let record = latest
  let key = latestKey
  for (;;) {
    yield versionOf(record, key)
    if (record.prev === null) return
    let prev: RootRecord
    try {
      prev = await store.load(record.prev, rootRecordCodec, options)
    } catch (err) {
      if (isCfsError(err, 'BLOCK_NOT_FOUND')) return
      throw err
    }
    if (prev.seq >= record.seq) throw new BlockInvalidError(`version ${record.seq} links back to version ${prev.seq}`)
    key = record.prev
    record = prev
  }
}

/** The version numbered `seq` in a newest-first chain; EntryNotFoundError once the chain is past it or ends. */
export async function findVersion (chain: AsyncIterable<VersionInfo>, seq: number): Promise<VersionInfo> {
  for await (const v of chain) {
    if (v.seq === seq) return v
    if (v.seq < seq) break
  }
  throw new EntryNotFoundError(`no readable version ${seq}`)
}
