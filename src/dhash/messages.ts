import { z } from 'zod'
import { keySchema } from '../chord/index.js'
import { MAX_BLOCK_BYTES } from './block.js'

/** DHash RPC methods (docs/PROTOCOL.md#dhash). Those with `to` address a vnode; the rest the endpoint. */
export const DHashMethod = {
  /** Client -> primary: store on the k replicas; answers how many hold it. */
  PUT: 'dhash.put',
  /** Node -> node: keep this replica (repair, migration, hand-off, replication by the primary). */
  STORE: 'dhash.store',
  GET: 'dhash.get',
  HAS: 'dhash.has',
  /** Client -> primary: extend the leases of these keys on every replica. */
  REFRESH: 'dhash.refresh',
  /** Primary -> replica: extend the leases of the keys it holds; answers which it lacks. */
  EXTEND: 'dhash.extend',
  /** Push a copy into a node's lookup-path cache. */
  CACHE: 'dhash.cache',
  /** Range summary for synchronisation: per-bucket key counts and XOR of keys. */
  DIGEST: 'dhash.digest',
  /** The keys stored in a range, in ring order. */
  KEYS: 'dhash.keys',
  /** A long poll: answer with the root of `key` once one newer than `after` is stored here. */
  WATCH: 'dhash.watch',
  /** Owner -> each holder: drop these blocks of mine now (signed; release.ts). */
  RELEASE: 'dhash.release',
} as const

/** Keys per batch request (has, refresh, extend, keys). */
export const MAX_BATCH_KEYS = 4096
export const DIGEST_BUCKETS = 64

const bytes = z.custom<Uint8Array>((b) => b instanceof Uint8Array, 'bytes expected')
const blockBytes = bytes.refine((b) => b.length <= MAX_BLOCK_BYTES, `a block is at most ${MAX_BLOCK_BYTES} bytes`)
const kind = z.union([z.literal(0), z.literal(1)])
const ownerHex = z.string().regex(/^([0-9a-f]{64})?$/, 'owner is a hex public key')
const ms = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const keyList = z.array(keySchema).max(MAX_BATCH_KEYS)

/** Blocks per put or store request; the coalescer also caps a batch at 4 MiB of blocks. */
export const MAX_BATCH_BLOCKS = 256

const putItem = z.object({
  key: keySchema,
  kind,
  bytes: blockBytes,
  /** The lease asked for, from now. */
  leaseMs: ms,
  owner: ownerHex.optional(),
  /** Roots: store only if the current sequence number is this one (0: no root yet). */
  expectSeq: ms.optional(),
})
export type PutItem = z.infer<typeof putItem>
/** Client -> primary: blocks whose primary is the vnode `to`. */
export const putRequest = z.object({ to: keySchema, items: z.array(putItem).min(1).max(MAX_BATCH_BLOCKS) })
/** Per item, in order: [0, replicas holding it] or [status, message] (net/protocol.ts statuses). */
const outcome = <T extends z.ZodTypeAny>(ok: T) => z.union([z.tuple([z.literal(0), ok]), z.tuple([z.number().int().min(1), z.string()])])
export const putResponse = z.object({ wanted: z.number().int().min(1), results: z.array(outcome(z.number().int().min(0))).max(MAX_BATCH_BLOCKS) })

/** `repair`: the sender read bad bytes of this block from the receiver, which rechecks its copy. */
const storeItem = z.object({ key: keySchema, kind, bytes: blockBytes, expiresAt: ms, owner: ownerHex, repair: z.boolean().optional() })
export type StoreItem = z.infer<typeof storeItem>
export const storeRequest = z.object({ items: z.array(storeItem).min(1).max(MAX_BATCH_BLOCKS) })
/** Per item, in order: [0, stored (false: already held the same or newer)] or [status, message]. */
export const storeResponse = z.object({ results: z.array(outcome(z.boolean())).max(MAX_BATCH_BLOCKS) })

export const getRequest = z.object({ key: keySchema, cache: z.boolean().optional() })
export const getResponse = z.object({ kind, bytes: blockBytes })

export const hasRequest = z.object({ keys: keyList })
export const hasResponse = z.object({ have: z.array(z.boolean()).max(MAX_BATCH_KEYS) })

export const refreshRequest = z.object({ to: keySchema, keys: keyList, leaseMs: ms })
/** `missing`: keys no replica holds any more; the owner must put them again. */
export const refreshResponse = z.object({ missing: keyList, replicas: z.number().int().min(0) })

export const extendRequest = z.object({ keys: keyList, expiresAt: ms })
export const extendResponse = z.object({ missing: keyList })

export const cacheRequest = z.object({ key: keySchema, kind, bytes: blockBytes })

export const digestRequest = z.object({ from: keySchema, to: keySchema })
/** One [count, xor-of-keys] pair per bucket, DIGEST_BUCKETS of them. */
export const digestResponse = z.object({ buckets: z.array(z.tuple([z.number().int().min(0), keySchema])).length(DIGEST_BUCKETS) })

export const keysRequest = z.object({ from: keySchema, to: keySchema, limit: z.number().int().min(1).max(MAX_BATCH_KEYS) })
export const keysResponse = z.object({ keys: keyList, more: z.boolean() })

export const emptyResponse = z.object({}).passthrough()

/** `after`: the sequence number the watcher has (0: none); `waitMs`: how long to hold the question (capped by the holder). */
export const watchRequest = z.object({ key: keySchema, after: ms, waitMs: ms })
/** The newer root's bytes, or none when the time ran out first. */
export const watchResponse = z.object({ bytes: blockBytes.optional() })

/** Signed by the owner (release.ts): `time` and `leaseMs` bound which copies may go. */
export const releaseRequest = z.object({ keys: keyList, owner: bytes.refine((b) => b.length === 32, 'owner is 32 bytes'), time: ms, leaseMs: ms, sig: bytes.refine((b) => b.length === 64, 'a signature is 64 bytes') })
/** How many of the keys this node dropped. */
export const releaseResponse = z.object({ released: z.number().int().min(0) })
