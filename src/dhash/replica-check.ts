import pLimit from 'p-limit'
import { compareKeys, isCfsError, isUnreachable, throwIfAborted, toHex, type AbortOptions, type Key } from '../core/index.js'
import type { NodeRef } from '../chord/index.js'
import type { RpcOptions } from './dhash-rpc.js'
import { MAX_BATCH_KEYS } from './messages.js'

/** What one holder answered when asked whether it stores a key (`dhash.has`). */
export type HolderAnswer = 'holds' | 'lacks' | 'unreachable' | 'error'

export interface HolderState {
  readonly node: NodeRef
  readonly answer: HolderAnswer
  /** Why the holder could not tell: the error's message ('unreachable' and 'error' only). */
  readonly error?: string
}

/**
 * A key's replicas as seen from outside:
 * - `ok`: at least k of its holders hold it;
 * - `repairing`: some hold it and some of its holders lack it (or do not answer), which
 *   maintenance makes up;
 * - `short`: every holder holds it, but the ring has fewer than k endpoints;
 * - `lost`: none of its holders holds it.
 */
export type ReplicaHealth = 'ok' | 'repairing' | 'short' | 'lost'

export interface ReplicaCheck {
  readonly key: Key
  /** Replicas wanted (k). */
  readonly wanted: number
  /** The nodes that should hold the key (k distinct endpoints, primary first), with their answers. */
  readonly holders: readonly HolderState[]
  /** Holders that answered that they hold it. */
  readonly have: number
  readonly health: ReplicaHealth
}

/** Holders asked at once. */
export const DEFAULT_CHECK_CONCURRENCY = 8
/** Milliseconds one holder has to answer: short, since a dead holder is what is looked for. */
export const DEFAULT_CHECK_TIMEOUT_MS = 2_000

export interface CheckReplicasOptions extends AbortOptions {
  /** Holders asked at once. @default DEFAULT_CHECK_CONCURRENCY */
  concurrency?: number
  /** Milliseconds one holder has to answer; one that does not is 'unreachable'. @default DEFAULT_CHECK_TIMEOUT_MS */
  timeoutMs?: number
}

export interface ReplicaCheckComponents {
  /** The k nodes that should hold a key, one per endpoint, primary first (as puts place it). */
  holders: (key: Key, options: AbortOptions) => Promise<readonly NodeRef[]>
  /** Which of `keys` the endpoint of `node` stores (`dhash.has`, pinned to its key). */
  has: (node: NodeRef, keys: readonly Key[], options: RpcOptions) => Promise<boolean[]>
}

/** Health of a key with `have` copies on its `holders` holders, of `wanted` (see ReplicaHealth). */
export function replicaHealth (have: number, holders: number, wanted: number): ReplicaHealth {
  if (have === 0) return 'lost'
  if (have >= wanted) return 'ok'
  return have < holders ? 'repairing' : 'short'
}

/**
 * Who should hold each key and who answers that it does. Keys are located in ring order (one
 * lookup per arc, as `refresh` does), then every holder is asked about all of its keys at once
 * (`dhash.has`, batches of MAX_BATCH_KEYS), `concurrency` holders at a time, each within
 * `timeoutMs`. A holder that does not answer counts as not holding. Only the k holders are
 * asked: copies elsewhere (a hand-off not yet done, lookup-path caches) are not counted.
 * Results are in the order of `keys` (a key given twice is checked once).
 */
export async function checkReplicas (
  components: ReplicaCheckComponents,
  keys: readonly Key[],
  wanted: number,
  options: CheckReplicasOptions = {},
): Promise<ReplicaCheck[]> {
  const unique = new Map<string, Key>()
  for (const key of keys) unique.set(toHex(key), key)
  const holdersOf = new Map<string, readonly NodeRef[]>()
  const askFor = new Map<string, { node: NodeRef, keys: Key[] }>() // by address
  for (const [hex, key] of [...unique].sort((a, b) => compareKeys(a[1], b[1]))) {
    throwIfAborted(options.signal)
    const holders = await components.holders(key, options)
    holdersOf.set(hex, holders)
    for (const node of holders) {
      const ask = askFor.get(node.address) ?? { node, keys: [] }
      ask.keys.push(key)
      askFor.set(node.address, ask)
    }
  }
  const answers = new Map<string, { answer: HolderAnswer, error?: string }>() // `${address} ${hex}`
  const limit = pLimit(options.concurrency ?? DEFAULT_CHECK_CONCURRENCY)
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS
  const asks: Array<Promise<void>> = []
  for (const { node, keys: list } of askFor.values()) {
    const address = node.address
    for (let i = 0; i < list.length; i += MAX_BATCH_KEYS) {
      const batch = list.slice(i, i + MAX_BATCH_KEYS)
      asks.push(limit(async () => {
        throwIfAborted(options.signal)
        try {
          const have = await components.has(node, batch, { ...(options.signal === undefined ? {} : { signal: options.signal }), timeoutMs })
          batch.forEach((key, j) => { answers.set(`${address} ${toHex(key)}`, { answer: have[j] === true ? 'holds' : 'lacks' }) })
        } catch (err) {
          throwIfAborted(options.signal)
          if (!isCfsError(err)) throw err
          const answer: HolderAnswer = isUnreachable(err) ? 'unreachable' : 'error'
          for (const key of batch) answers.set(`${address} ${toHex(key)}`, { answer, error: err.message })
        }
      }))
    }
  }
  await Promise.all(asks)
  return keys.map((key) => {
    const hex = toHex(key)
    const holders = (holdersOf.get(hex) ?? []).map((node): HolderState => ({ node, ...answers.get(`${node.address} ${hex}`) ?? { answer: 'error', error: 'not asked' } }))
    const have = holders.filter((h) => h.answer === 'holds').length
    return { key, wanted, holders, have, health: replicaHealth(have, holders.length, wanted) }
  })
}
