import {
  BadRequestError, BlockNotFoundError, ForbiddenError, LogThrottle, NO_METRICS, NotResponsibleError, ShuttingDownError, UnknownTargetError, createLogger,
  hostOf, isCfsError, peerLabel, secondsSince, shortHex, toHex,
  type AbortOptions, type ComponentLogger, type Counter, type Key, type Logger, type Metrics,
} from '../core/index.js'
import { REFUSAL_LOG_INTERVAL_MS, type RequestContext, type Transport } from '../net/index.js'
import { parseRequest, type NodeRef, type Router } from '../chord/index.js'
import { BlockKind } from './block.js'
import { toOutcome, type DHashRpc, type Outcome } from './dhash-rpc.js'
import {
  DHashMethod, MAX_BATCH_KEYS, cacheRequest, digestRequest, extendRequest, getRequest, hasRequest, keysRequest,
  putRequest, refreshRequest, releaseRequest, storeRequest, watchRequest, type StoreItem,
} from './messages.js'
import { digestInterval } from './range-digest.js'
import { checkRelease } from './release.js'
import { replicaSet } from './replica-set.js'
import type { ReplicaStore } from './replica-store.js'
import { MAX_WATCH_MS, RootWatchers, type RootWatchersInit } from './root-watch.js'
import { verifyBlock } from './verify.js'

export interface DHashServerComponents {
  transport: Transport
  store: ReplicaStore
  rpc: DHashRpc
  /** The vnode a request's `to` names, or undefined. */
  vnode: (id: Key) => Router | undefined
  /**
   * Whether `key` is the identity of a node one of this endpoint's vnodes knows
   * (Router.knowsPeer): who may call the node-to-node methods.
   */
  knowsPeer: (key: Uint8Array) => boolean
  logger?: ComponentLogger
  /** Where requests served, blocks stored and replications are counted. @default NO_METRICS */
  metrics?: Metrics
}

export interface DHashServerInit {
  /** Replicas per block. */
  replicas: number
  /** Bounds on open dhash.watch long polls. */
  watchers?: RootWatchersInit
}

/**
 * The methods only nodes of the ring call (lease extension by a primary, maintenance): on an
 * authenticated link a peer whose identity is not pinned in any record this node's vnodes know
 * is refused (FORBIDDEN). dhash.store is ring-only too, but item by item: from such a peer it
 * takes only a reader's repair of a copy this node holds (storeReplicas). The other methods are
 * for clients too.
 */
export const RING_ONLY_METHODS: ReadonlySet<string> = new Set([DHashMethod.EXTEND, DHashMethod.DIGEST, DHashMethod.KEYS])

/**
 * Serves the DHash methods for one endpoint. The store is shared by the endpoint's vnodes;
 * `to` picks the vnode whose successor list decides where a primary replicates.
 */
export class DHashServer {
  private readonly log: Logger
  private readonly methods: string[] = []
  private leaving = false
  private readonly watchers: RootWatchers
  private readonly unwatch: () => void
  private readonly stored: { put: Counter, store: Counter }
  private readonly replications: { ok: Counter, failed: Counter }
  /** Refused peers are logged at most once per identity per REFUSAL_LOG_INTERVAL_MS. */
  private readonly refusals = new LogThrottle(REFUSAL_LOG_INTERVAL_MS)

  constructor (private readonly components: DHashServerComponents, private readonly init: DHashServerInit) {
    this.log = (components.logger ?? createLogger()).forComponent('dhash:server')
    const metrics = components.metrics ?? NO_METRICS
    const requests = metrics.counter({ name: 'cfs_dhash_server_requests_total', help: 'DHash requests served, by method and outcome (ok, error)', labelNames: ['method', 'outcome'] })
    const seconds = metrics.histogram({ name: 'cfs_dhash_server_request_duration_seconds', help: 'Time to serve a DHash request, by method', labelNames: ['method'] })
    const stored = metrics.counter({
      name: 'cfs_dhash_server_blocks_stored_total', help: 'Blocks written to this node\'s store, by how they came: put (as primary) or store (replication, repair, hand-off)', labelNames: ['via'],
    })
    this.stored = { put: stored.labels('put'), store: stored.labels('store') }
    const replications = metrics.counter({ name: 'cfs_dhash_server_replications_total', help: 'Copies a primary sent to the other holders on put, by outcome (ok, failed: a replica missing)', labelNames: ['outcome'] })
    this.replications = { ok: replications.labels('ok'), failed: replications.labels('failed') }
    this.watchers = new RootWatchers(init.watchers)
    this.unwatch = components.store.onStored((key, meta, bytes) => { if (meta.kind === BlockKind.ROOT) this.watchers.notify(key, meta.seq, bytes) })
    const t = components.transport
    const serve = (method: string, handler: (body: unknown, ctx: RequestContext) => Promise<unknown>): void => {
      const ok = requests.labels(method, 'ok')
      const error = requests.labels(method, 'error')
      const took = seconds.labels(method)
      const ringOnly = RING_ONLY_METHODS.has(method)
      t.handle(method, async (body, ctx) => {
        const started = performance.now()
        try {
          if (ringOnly) this.checkRingNode(method, ctx)
          const r = await handler(body, ctx)
          ok.inc()
          return r
        } catch (err) {
          error.inc()
          throw err
        } finally {
          took.observe(secondsSince(started))
        }
      })
      this.methods.push(method)
    }
    serve(DHashMethod.PUT, async (body, ctx) => this.put(body, ctx))
    serve(DHashMethod.STORE, async (body, ctx) => this.storeReplicas(body, ctx))
    serve(DHashMethod.GET, async (body) => this.get(body))
    serve(DHashMethod.HAS, async (body) => this.has(body))
    serve(DHashMethod.REFRESH, async (body, ctx) => this.refresh(body, ctx))
    serve(DHashMethod.EXTEND, async (body) => this.extend(body))
    serve(DHashMethod.CACHE, async (body) => this.cache(body))
    serve(DHashMethod.DIGEST, async (body) => this.digest(body))
    serve(DHashMethod.KEYS, async (body) => this.keys(body))
    serve(DHashMethod.WATCH, async (body, ctx) => this.watch(body, ctx))
    serve(DHashMethod.RELEASE, async (body) => this.release(body))
  }

  /** Open dhash.watch long polls. */
  get watching (): number { return this.watchers.size }

  /**
   * The endpoint is handing its blocks off to leave: from now on it confirms no copies. A
   * holder it has just given a block would otherwise count it as one of the k holders, see all
   * k confirm, and delete the copy it was given (maintenance hand-off) before this node is gone.
   */
  beginLeave (): void {
    this.leaving = true
  }

  close (): void {
    for (const m of this.methods) this.components.transport.unhandle(m)
    this.unwatch()
    this.watchers.close()
  }

  /**
   * A node-to-node method from a peer that proved an identity no node this endpoint knows is
   * pinned to: refused. A peer that proved none (a plaintext link) is let through as before.
   * A ring node not known yet (it joined a moment ago) is refused too; its copies come again
   * with the next maintenance round.
   */
  private checkRingNode (method: string, ctx: RequestContext): void {
    if (!this.fromRing(ctx)) throw this.refuse(method, ctx)
  }

  /** Whether the peer may call the node-to-node methods: a known ring node, or a link that proves no one (as before keys). */
  private fromRing (ctx: RequestContext): boolean {
    return ctx.peerKey === undefined || this.components.knowsPeer(ctx.peerKey)
  }

  /** The refusal of a node-to-node call from a peer that is not a ring node this node knows; logged once per identity per interval. */
  private refuse (what: string, ctx: RequestContext): ForbiddenError {
    const key = ctx.peerKey as Uint8Array
    const peer = peerLabel(ctx.remoteAddress, key)
    const more = this.refusals.admit(peer)
    if (more !== undefined) this.log.error('refused %s from %s (%s): not a node of the ring this node knows%s', what, peer, ctx.remoteAddress, more)
    return new ForbiddenError(`${what} is for nodes of the ring, and ${shortHex(key)} is not one this node knows`)
  }

  private checkResponsible (router: Router, key: Key): void {
    // With no predecessor known yet the node cannot tell; it accepts, and repair moves the
    // block if another node turns out to be responsible.
    if (router.predecessor() !== undefined && !router.isResponsible(key)) {
      throw new NotResponsibleError(`${shortHex(key)} is not in the range of ${shortHex(router.self.id)}`)
    }
  }

  /** The other nodes that hold replicas of what `router` is primary for. */
  private otherReplicas (router: Router): NodeRef[] {
    return replicaSet([router.self, ...router.successors()], this.init.replicas).slice(1)
  }

  /**
   * Stores each block and has the replica holders store it too (their stores are batched);
   * answers per block how many nodes hold it. A content block is verified here first and then
   * written here and sent on at once: it is immutable, so nothing the local write could find
   * (only a full disk or a quota) would make the copies wrong. A root is written here first,
   * since its sequence check decides whether there is anything to send.
   */
  private async put (body: unknown, ctx: RequestContext): Promise<{ wanted: number, results: Array<Outcome<number>> }> {
    const req = parseRequest(putRequest, body)
    const { store } = this.components
    const router = this.components.vnode(req.to)
    if (router === undefined) throw new UnknownTargetError(`no node ${shortHex(req.to)} at this address`)
    const others = this.otherReplicas(router)
    // The source quota counts what the putter is (its identity, when its link proved one) and
    // where it is (its host), not the owner it claims: changing either alone does not reset it.
    const sources = [`address ${hostOf(ctx.remoteAddress)}`, ...(ctx.peerKey === undefined ? [] : [`identity ${toHex(ctx.peerKey)}`])]
    const results = await Promise.allSettled(req.items.map(async (item) => {
      this.checkResponsible(router, item.key)
      const verified = verifyBlock(item.key, item.kind, item.bytes)
      const expiresAt = store.leaseEnd(item.leaseMs)
      const owner = item.owner ?? ''
      const copy = { key: item.key, kind: item.kind, bytes: item.bytes, expiresAt, owner }
      const stored = store.acceptVerified(item.key, item.kind, item.bytes, verified, {
        expiresAt,
        owner,
        ...(item.expectSeq === undefined ? {} : { expectSeq: item.expectSeq }),
        sources,
      })
      if (item.kind === BlockKind.CONTENT) {
        const [acks, isNew] = await Promise.all([this.replicate(others, copy, ctx.signal), stored])
        if (isNew) this.stored.put.inc()
        return 1 + acks
      }
      if (await stored) this.stored.put.inc()
      return 1 + await this.replicate(others, copy, ctx.signal)
    }))
    return { wanted: this.init.replicas, results: results.map(toOutcome) }
  }

  /** Has each of `nodes` store a copy; answers how many did. */
  private async replicate (nodes: readonly NodeRef[], item: StoreItem, signal: AbortSignal | undefined): Promise<number> {
    const acks = await Promise.all(nodes.map(async (n) => {
      try {
        // A root's owner is its signer whatever is claimed: each holder derives it again.
        await this.components.rpc.store(n, item, { signal })
        this.replications.ok.inc()
        return 1
      } catch (err) {
        this.replications.failed.inc()
        this.log('replica %s of %s failed: %s', n.address, shortHex(item.key), (err as Error).message)
        return 0
      }
    }))
    return acks.reduce<number>((a, b) => a + b, 0)
  }

  /**
   * Keeps the copies a ring node sends (replication, maintenance, hand-off, read repair). From
   * a peer that is not a ring node this node knows (a reader outside the ring, or a ring node
   * it has not heard of), an item is taken only as a repair of a copy held here: a bad copy
   * replaced, a root moved forward, with the copy's owner and lease unchanged. So such a peer
   * adds no copy and extends no lease; a copy it would add is refused (FORBIDDEN) and left to
   * maintenance.
   */
  private async storeReplicas (body: unknown, ctx: RequestContext): Promise<{ results: Array<Outcome<boolean>> }> {
    const req = parseRequest(storeRequest, body)
    const { store } = this.components
    const fromRing = this.fromRing(ctx)
    const results = await Promise.allSettled(req.items.map(async (item) => {
      let kept = { expiresAt: item.expiresAt, owner: item.owner }
      if (!fromRing) {
        const held = await store.blocks.getMeta(item.key)
        if (held === undefined || held.expiresAt <= store.now()) throw this.refuse(`${DHashMethod.STORE} of a copy not held here`, ctx)
        kept = { expiresAt: held.expiresAt, owner: held.owner }
      }
      const isNew = await store.accept(item.key, item.kind, item.bytes, {
        ...kept, replica: true, repair: item.repair === true,
      })
      if (isNew) this.stored.store.inc()
      return isNew
    }))
    return { results: results.map(toOutcome) }
  }

  private async get (body: unknown): Promise<{ kind: BlockKind, bytes: Uint8Array }> {
    const req = parseRequest(getRequest, body)
    const block = await this.components.store.read(req.key, false)
    if (block !== undefined) return { kind: block.kind, bytes: block.bytes }
    if (req.cache === true) {
      const cached = await this.components.store.readCached(req.key)
      if (cached !== undefined) return { kind: cached.kind, bytes: cached.bytes }
    }
    throw new BlockNotFoundError(`${shortHex(req.key)} is not stored here`)
  }

  private async has (body: unknown): Promise<{ have: boolean[] }> {
    const req = parseRequest(hasRequest, body)
    if (this.leaving) throw new ShuttingDownError('leaving the ring: confirming no copies')
    const have: boolean[] = []
    for (const key of req.keys) have.push(await this.components.store.blocks.has(key))
    return { have }
  }

  /**
   * Extends leases on every replica. The primary sends bytes only to replicas that lack a key,
   * and fetches from a replica what it lacks itself; keys nobody holds are reported missing.
   */
  private async refresh (body: unknown, ctx: RequestContext): Promise<{ missing: Key[], replicas: number }> {
    const req = parseRequest(refreshRequest, body)
    const router = this.components.vnode(req.to)
    if (router === undefined) throw new UnknownTargetError(`no node ${shortHex(req.to)} at this address`)
    const { store, rpc } = this.components
    const options = { signal: ctx.signal }
    const expiresAt = store.leaseEnd(req.leaseMs)
    const others = this.otherReplicas(router)
    let lacking = await store.extend(req.keys, expiresAt)
    if (lacking.length > 0) lacking = await this.fetchFrom(others, lacking, expiresAt, options)
    const lackingHex = new Set(lacking.map(toHex))
    let replicas = 1
    await Promise.all(others.map(async (n) => {
      try {
        const missing = await rpc.extend(n, req.keys, expiresAt, options)
        for (const key of missing) {
          if (lackingHex.has(toHex(key))) continue
          const block = await store.read(key)
          if (block !== undefined) await rpc.store(n, { key, kind: block.kind, bytes: block.bytes, expiresAt, owner: block.owner }, options)
        }
        replicas++
      } catch (err) {
        this.log('refresh on %s failed: %s', n.address, (err as Error).message)
      }
    }))
    return { missing: lacking, replicas }
  }

  /** Copies the given keys from other replicas into the local store; returns those none had. */
  private async fetchFrom (nodes: readonly NodeRef[], keys: Key[], expiresAt: number, options: AbortOptions): Promise<Key[]> {
    const missing: Key[] = []
    for (const key of keys) {
      let found = false
      for (const n of nodes) {
        try {
          const b = await this.components.rpc.get(n, key, false, options)
          await this.components.store.accept(key, b.kind, b.bytes, { expiresAt, owner: '', replica: true })
          found = true
          break
        } catch (err) {
          if (!isCfsError(err)) throw err
        }
      }
      if (!found) missing.push(key)
    }
    return missing
  }

  private async extend (body: unknown): Promise<{ missing: Key[] }> {
    const req = parseRequest(extendRequest, body)
    return { missing: await this.components.store.extend(req.keys, req.expiresAt) }
  }

  private async cache (body: unknown): Promise<Record<string, never>> {
    const req = parseRequest(cacheRequest, body)
    await this.components.store.putCached(req.key, req.kind, req.bytes)
    return {}
  }

  private async digest (body: unknown): Promise<{ buckets: Array<[number, Key]> }> {
    const req = parseRequest(digestRequest, body)
    return { buckets: await digestInterval(this.components.store.blocks, { from: req.from, to: req.to }) }
  }

  /**
   * Holds the question until a root of the key newer than `after` is stored here (answered
   * with its bytes, which the watcher verifies as any root) or the wait is over (answered
   * with none). A watcher that disconnects is dropped at once.
   */
  private async watch (body: unknown, ctx: RequestContext): Promise<{ bytes?: Uint8Array }> {
    const req = parseRequest(watchRequest, body)
    const { store } = this.components
    const held = async (): Promise<{ seq: number, bytes: Uint8Array } | undefined> => {
      const b = await store.read(req.key)
      return b === undefined || b.kind !== BlockKind.ROOT ? undefined : { seq: b.seq, bytes: b.bytes }
    }
    const bytes = await this.watchers.wait(req.key, req.after, Math.min(req.waitMs, MAX_WATCH_MS), held, ctx.signal)
    return bytes === undefined ? {} : { bytes }
  }

  /** An owner's signed release (release.ts): its content blocks among the keys are dropped here. */
  private async release (body: unknown): Promise<{ released: number }> {
    const req = parseRequest(releaseRequest, body)
    const { store } = this.components
    const problem = checkRelease(req, req.keys, store.now())
    if (problem !== undefined) throw new BadRequestError(`release refused: ${problem}`)
    return { released: await store.release(req.keys, toHex(req.owner), req.time + req.leaseMs) }
  }

  private async keys (body: unknown): Promise<{ keys: Key[], more: boolean }> {
    const req = parseRequest(keysRequest, body)
    const keys: Key[] = []
    const limit = Math.min(req.limit, MAX_BATCH_KEYS)
    for await (const key of this.components.store.blocks.keys({ from: req.from, to: req.to })) {
      if (keys.length === limit) return { keys, more: true }
      keys.push(key)
    }
    return { keys, more: false }
  }
}
