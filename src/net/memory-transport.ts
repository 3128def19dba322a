import { setMaxListeners } from 'node:events'
import {
  NodeUnreachableError, ProtocolError, SeededRandom, ShuttingDownError, TimeoutError, createLogger, keysEqual, shortHex,
  type ComponentLogger, type Logger,
} from '../core/index.js'
import { decodeFrame, encodeFrame } from './codec.js'
import { dispatchRequest, registerHandler, unwrapResponse } from './dispatch.js'
import { PendingCalls } from './pending-calls.js'
import { FrameType } from './protocol.js'
import {
  DEFAULT_MAX_FRAME_BYTES, DEFAULT_RPC_TIMEOUT_MS, type RequestHandler, type RequestOptions, type Transport,
} from './transport.js'

export interface MemoryNetworkInit {
  /** Seed for latency and loss decisions. @default 1 */
  seed?: number
  /** One-way delay range in ms, uniform. [0, 0] delivers on the next macrotask. @default [0, 0] */
  latencyMs?: [number, number]
  /** Probability that one message (request or response) is lost. @default 0 */
  dropRate?: number
  /** Largest frame accepted. @default DEFAULT_MAX_FRAME_BYTES (transport.ts) */
  maxFrameBytes?: number
}

export interface MemoryNetworkStats { messages: number, dropped: number, bytes: number }

/**
 * A simulated network in one process: seeded latency and loss, partitions, crashes and
 * restarts. Every message is encoded and decoded with the real codec. A lost message is
 * reported to its sender as a deadline expiry at once, without waiting the deadline out in wall
 * time, so simulations with loss stay fast.
 */
export class MemoryNetwork {
  readonly random: SeededRandom
  latencyMs: [number, number]
  dropRate: number
  readonly maxFrameBytes: number
  readonly stats: MemoryNetworkStats = { messages: 0, dropped: 0, bytes: 0 }
  private readonly endpoints = new Map<string, MemoryTransport>()
  private readonly crashed = new Set<string>()
  private partitionOf: Map<string, number> | undefined
  private readonly silent = new Set<string>()

  constructor (init: MemoryNetworkInit = {}) {
    this.random = new SeededRandom(init.seed ?? 1)
    this.latencyMs = init.latencyMs ?? [0, 0]
    this.dropRate = init.dropRate ?? 0
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  }

  createTransport (address: string, init: MemoryTransportInit = {}): MemoryTransport {
    return new MemoryTransport({ network: this }, { ...init, address })
  }

  /** The endpoint stops answering: requests to it fail as unreachable, its replies are lost. */
  crash (address: string): void { this.crashed.add(address) }
  /** The endpoint answers again (its owner decides whether state survived). */
  restart (address: string): void { this.crashed.delete(address) }
  isCrashed (address: string): boolean { return this.crashed.has(address) }

  /** Splits the network: messages between different groups are lost. Unlisted addresses form one more group. */
  partition (groups: string[][]): void {
    this.partitionOf = new Map()
    groups.forEach((g, i) => { for (const a of g) this.partitionOf?.set(a, i) })
  }

  heal (): void { this.partitionOf = undefined }

  /**
   * The endpoint stops answering without refusing: requests to it wait for their deadline, as
   * with a stopped process or a host cut off by a firewall that drops packets.
   */
  silence (address: string): void { this.silent.add(address) }
  unsilence (address: string): void { this.silent.delete(address) }

  /** @internal */
  register (transport: MemoryTransport): void {
    if (this.endpoints.has(transport.address)) throw new RangeError(`address in use: ${transport.address}`)
    this.endpoints.set(transport.address, transport)
  }

  /** @internal */
  unregister (transport: MemoryTransport): void {
    if (this.endpoints.get(transport.address) === transport) this.endpoints.delete(transport.address)
  }

  /** @internal Carries one request to `to` and its response back. */
  async exchange (from: string, to: string, request: Uint8Array, pin?: Uint8Array): Promise<Uint8Array> {
    await this.hop(from, to, request)
    if (this.silent.has(to)) await new Promise<never>(() => {}) // the caller's deadline ends it
    const target = this.endpoints.get(to)
    if (target === undefined || this.crashed.has(to)) throw new NodeUnreachableError(`${to} is unreachable`)
    if (pin !== undefined && target.publicKey !== undefined && !keysEqual(pin, target.publicKey)) {
      throw new NodeUnreachableError(`${to} refused: its key ${shortHex(target.publicKey)} is not the ${shortHex(pin)} its record names`)
    }
    const response = await target.receive(request, from, this.endpoints.get(from)?.publicKey)
    if (this.crashed.has(to)) throw new NodeUnreachableError(`${to} crashed`)
    await this.hop(to, from, response)
    return response
  }

  private async hop (from: string, to: string, bytes: Uint8Array): Promise<void> {
    this.stats.messages++
    this.stats.bytes += bytes.length
    const [lo, hi] = this.latencyMs
    const delay = hi <= 0 ? 0 : lo + this.random.float() * (hi - lo)
    await new Promise<void>((resolve) => { if (delay <= 0) setImmediate(resolve); else setTimeout(resolve, delay) })
    const split = this.partitionOf !== undefined &&
      (this.partitionOf.get(from) ?? -1) !== (this.partitionOf.get(to) ?? -1)
    if (split || (this.dropRate > 0 && this.random.float() < this.dropRate)) {
      this.stats.dropped++
      throw new TimeoutError(`message ${from} -> ${to} lost`)
    }
  }
}

export interface MemoryTransportComponents { network: MemoryNetwork, logger?: ComponentLogger }
export interface MemoryTransportInit {
  /** This endpoint's address on the simulated network. @default a fresh "mem-N" */
  address?: string
  /** Deadline for requests without their own. @default DEFAULT_RPC_TIMEOUT_MS (transport.ts) */
  rpcTimeoutMs?: number
  /**
   * The endpoint's identity key: what its peers see as `peerKey`, and what a request pinned to
   * another key is refused against (as TcpTransport's handshake does).
   * @default undefined (authenticates nobody)
   */
  publicKey?: Uint8Array
}

let nextAnonymous = 0

/** One endpoint on a MemoryNetwork. */
export class MemoryTransport implements Transport {
  readonly address: string
  readonly publicKey: Uint8Array | undefined
  private readonly network: MemoryNetwork
  private readonly handlers = new Map<string, RequestHandler>()
  private readonly rpcTimeoutMs: number
  private readonly log: Logger
  private shutdown = new AbortController()
  private readonly pending = new PendingCalls()
  private started = false
  private nextId = 1

  constructor (components: MemoryTransportComponents, init: MemoryTransportInit = {}) {
    this.network = components.network
    this.address = init.address ?? `mem-${++nextAnonymous}`
    this.rpcTimeoutMs = init.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS
    this.publicKey = init.publicKey
    this.log = (components.logger ?? createLogger(this.address)).forComponent('net:memory')
  }

  start (): Promise<void> {
    if (!this.started) {
      this.shutdown = new AbortController()
      setMaxListeners(Infinity, this.shutdown.signal) // every handler in flight may listen
      this.network.register(this)
      this.started = true
    }
    return Promise.resolve()
  }

  async stop (): Promise<void> {
    await Promise.resolve()
    if (!this.started) return
    this.started = false
    this.shutdown.abort(new ShuttingDownError('transport stopped'))
    this.pending.failAll(new ShuttingDownError('transport stopped'))
    this.network.unregister(this)
  }

  handle (method: string, handler: RequestHandler): void { registerHandler(this.handlers, method, handler) }

  unhandle (method: string): void { this.handlers.delete(method) }

  async request (address: string, method: string, body: unknown, options: RequestOptions = {}): Promise<unknown> {
    if (!this.started) throw new ShuttingDownError('transport is not started')
    const bytes = encodeFrame({ type: FrameType.REQUEST, id: this.nextId++, method, body })
    if (bytes.length > this.network.maxFrameBytes) throw new RangeError(`request of ${bytes.length} bytes exceeds the frame limit`)
    const exchange = this.network.exchange(this.address, address, bytes, options.peerKey)
    const reply = await this.pending.track(exchange, options.timeoutMs ?? this.rpcTimeoutMs, options.signal)
    const frame = decodeFrame(reply)
    if (frame.type !== FrameType.RESPONSE) throw new ProtocolError('expected a response frame')
    return unwrapResponse(frame, method)
  }

  /** @internal Serves one request that arrived over the network. */
  async receive (bytes: Uint8Array, from: string, peerKey: Uint8Array | undefined): Promise<Uint8Array> {
    if (!this.started) throw new NodeUnreachableError(`${this.address} is not listening`)
    const frame = decodeFrame(bytes)
    if (frame.type !== FrameType.REQUEST) throw new ProtocolError('expected a request frame')
    const response = await dispatchRequest(this.handlers, frame, { remoteAddress: from, signal: this.shutdown.signal, peerKey }, this.log)
    return encodeFrame(response)
  }
}
