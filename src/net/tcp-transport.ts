import { createHmac, timingSafeEqual } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import tls from 'node:tls'
import {
  AbortError, ForbiddenError, LogThrottle, NodeUnreachableError, ProtocolError, ShuttingDownError, createLogger, keysEqual,
  hostOf, listenError, shortHex, type ComponentLogger, type Logger,
} from '../core/index.js'
import { decodeFrame, encodeFrameParts, type FrameParts } from './codec.js'
import type { FramePool } from './frame-pool.js'
import { FrameReader, FrameWriter } from './framing.js'
import { dispatchRequest, registerHandler, unwrapResponse } from './dispatch.js'
import { linkPeerKey, makeLinkIdentity, type LinkIdentity } from './link-identity.js'
import { PendingCalls } from './pending-calls.js'
import { readAcceptedInPlace } from './socket-reads.js'
import { FrameType, Status, statusForError, type RequestFrame, type ResponseFrame } from './protocol.js'
import {
  DEFAULT_MAX_FRAME_BYTES, DEFAULT_RPC_TIMEOUT_MS, type RequestHandler, type RequestOptions, type Transport,
} from './transport.js'

/** Time allowed for a TCP connect before the peer counts as unreachable. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000
/** Handlers in flight per inbound connection before the socket is no longer read. */
export const DEFAULT_MAX_CONCURRENT_PER_CONNECTION = 64
/** Milliseconds an idle outbound connection stays open. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000

/** Collaborators of a TcpTransport. */
export interface TcpTransportComponents {
  logger?: ComponentLogger
  /** Buffers for large responses, reused once given back (frame-pool.ts); without it, each frame is allocated. */
  framePool?: FramePool
}

/** Settings of a TcpTransport. */
export interface TcpTransportInit {
  /**
   * "host:port" to accept connections on; port 0 picks a free port. Omitted, '' or false: a
   * client-only transport that never listens, whose `address` is ''.
   * @default undefined (client only)
   */
  listen?: string | false
  /**
   * The address reported as `address` instead of the bound one (e.g. the public address when
   * listening on 0.0.0.0). A port of 0 is replaced by the bound port.
   * @default the listen host with the bound port
   */
  advertise?: string
  /** Deadline for requests without their own. @default DEFAULT_RPC_TIMEOUT_MS (transport.ts) */
  rpcTimeoutMs?: number
  /** Time allowed for a TCP connect before the peer counts as unreachable. @default DEFAULT_CONNECT_TIMEOUT_MS */
  connectTimeoutMs?: number
  /** Largest frame sent or accepted, without the 4-byte length prefix. @default DEFAULT_MAX_FRAME_BYTES (transport.ts) */
  maxFrameBytes?: number
  /**
   * Handlers in flight per inbound connection; beyond that the socket is not read until one
   * finishes and its response is written.
   * @default DEFAULT_MAX_CONCURRENT_PER_CONNECTION
   */
  maxConcurrentPerConnection?: number
  /** Milliseconds an outbound connection with no request in flight stays open; 0 = forever. @default DEFAULT_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  /**
   * TLS 1.3 on every link, both ends presenting their identity (link-identity.ts). false:
   * plaintext TCP, which authenticates and hides nothing and cannot talk to an encrypted
   * endpoint; for measuring what encryption costs.
   * @default true
   */
  encrypt?: boolean
  /** This endpoint's identity on its links, or how to load it at start(). @default a fresh one, made at start() */
  identity?: LinkIdentity | (() => Promise<LinkIdentity>)
  /**
   * A private ring's shared secret. Every link this endpoint opens proves it (an HMAC of the
   * TLS session's exported keying material, so a proof cannot be replayed on another link);
   * a link opened by a peer that did not prove it has each request answered FORBIDDEN.
   * @default undefined (a public ring: no proof asked or given)
   */
  ringSecret?: Uint8Array
}

/**
 * The TLS 1.3 cipher suites offered, fastest first here: AES-128-GCM (AES-NI) takes about a
 * fifth less CPU per MB than OpenSSL's default first choice, AES-256-GCM; ChaCha20-Poly1305
 * for machines without AES instructions.
 */
export const LINK_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384'
/** The ALPN protocol name of cfs links. */
export const LINK_PROTOCOL = 'cfs/1'
/** The label of the TLS exporter the ring-secret proof is computed over (RFC 8446, 7.5). */
export const RING_SECRET_LABEL = 'EXPORTER-cfs-ring-secret'
/** The method of the frame that carries the ring-secret proof, the first a link's opener sends (request id 0). */
export const HELLO_METHOD = 'net.hello'
/** Milliseconds between two log lines about the same refused peer. */
export const REFUSAL_LOG_INTERVAL_MS = 30_000

const MAX_DECLARABLE = 0xffff_ffff
/** A connection's read buffer (socket-reads.ts, or an outbound socket's `onread`): what one read(2) of plaintext TCP takes. */
const READ_BUFFER_BYTES = 64 * 1024
const HELLO_ID = 0

/**
 * Request/response over TCP, in TLS 1.3 unless told otherwise. Each frame on the wire is a
 * 4-byte big-endian length followed by a codec frame (net/codec.ts). A transport keeps one
 * outbound connection per remote address and multiplexes its requests on it by id; the peer
 * answers on that same connection. Connections the peer opened carry only the peer's requests
 * and our responses. A peer that breaks the protocol loses its connection, never the process.
 *
 * Both ends of a TLS link present a self-signed certificate of their Ed25519 identity key. A
 * request pinned to a key (`RequestOptions.peerKey`) is refused before it is sent when the
 * peer proved another; handlers see the key the peer proved as `RequestContext.peerKey`. With a
 * ring secret, the opener of a link proves it in the link's first frame.
 */
export class TcpTransport implements Transport {
  private readonly log: Logger
  private readonly listenAddress: string | undefined
  private readonly advertise: string | undefined
  private readonly rpcTimeoutMs: number
  private readonly connectTimeoutMs: number
  private readonly maxFrameBytes: number
  private readonly maxConcurrent: number
  private readonly idleTimeoutMs: number
  private readonly framePool: FramePool | undefined
  private readonly encrypt: boolean
  private readonly ringSecret: Uint8Array | undefined
  private identity: LinkIdentity | undefined
  private readonly loadIdentity: (() => Promise<LinkIdentity>) | undefined
  /** One log line per refused peer per REFUSAL_LOG_INTERVAL_MS. */
  private readonly refusals = new LogThrottle(REFUSAL_LOG_INTERVAL_MS)
  private readonly handlers = new Map<string, RequestHandler>()
  private readonly outbound = new Map<string, Outbound>()
  private readonly inbound = new Set<Inbound>()
  private server: net.Server | tls.Server | undefined
  private shutdown = new AbortController()
  private readonly calls = new PendingCalls()
  private started = false
  private starting: Promise<void> | undefined
  private boundAddress = ''
  /** Request ids are unique per transport, so a late response is told apart from a forged one. */
  private nextId = 1

  constructor (components: TcpTransportComponents = {}, init: TcpTransportInit = {}) {
    this.log = (components.logger ?? createLogger()).forComponent('net:tcp')
    this.framePool = components.framePool
    this.listenAddress = init.listen === false || init.listen === '' ? undefined : init.listen
    this.advertise = init.advertise
    this.rpcTimeoutMs = init.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS
    this.connectTimeoutMs = init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.maxConcurrent = init.maxConcurrentPerConnection ?? DEFAULT_MAX_CONCURRENT_PER_CONNECTION
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.encrypt = init.encrypt ?? true
    if (typeof init.identity === 'function') this.loadIdentity = init.identity
    else this.identity = init.identity
    this.ringSecret = init.ringSecret
    if (!this.encrypt && this.ringSecret !== undefined) throw new RangeError('a ring secret needs encrypted links')
    if (!Number.isSafeInteger(this.maxFrameBytes) || this.maxFrameBytes < 1 || this.maxFrameBytes > MAX_DECLARABLE) {
      throw new RangeError(`maxFrameBytes must be an integer in [1, ${MAX_DECLARABLE}]`)
    }
    if (!Number.isSafeInteger(this.maxConcurrent) || this.maxConcurrent < 1) {
      throw new RangeError('maxConcurrentPerConnection must be a positive integer')
    }
    if (!(this.idleTimeoutMs >= 0)) throw new RangeError('idleTimeoutMs must be >= 0')
    if (this.listenAddress !== undefined && parseAddress(this.listenAddress) === undefined) {
      throw new RangeError(`listen must be "host:port", got ${this.listenAddress}`)
    }
  }

  /** The identity key peers see in the handshake; undefined on a plaintext transport, or before start() when none was given. */
  get publicKey (): Uint8Array | undefined { return this.encrypt ? this.identity?.publicKey : undefined }

  /** "host:port" peers reach this endpoint at; '' for a client-only transport or before start(). */
  get address (): string { return this.boundAddress }

  async start (): Promise<void> {
    if (this.started) return
    this.starting ??= this.open().finally(() => { this.starting = undefined })
    await this.starting
  }

  private async open (): Promise<void> {
    this.shutdown = new AbortController()
    if (this.encrypt) this.identity ??= await (this.loadIdentity ?? makeLinkIdentity)()
    if (this.listenAddress !== undefined) {
      const { host, port } = parseAddress(this.listenAddress) as HostPort
      const server = this.encrypt ? this.tlsServer() : net.createServer((socket) => { this.accept(socket, undefined) })
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException): void => {
          reject(listenError(err, this.listenAddress as string))
        }
        server.once('error', onError)
        server.listen({ host, port }, () => {
          server.off('error', onError)
          resolve()
        })
      })
      server.on('error', (err: Error) => { this.log.error('server error: %s', err.message) })
      const bound = (server.address() as AddressInfo).port
      this.server = server
      this.boundAddress = this.advertise === undefined
        ? formatAddress(host, bound)
        : this.advertise.replace(/:0$/, `:${bound}`)
      this.log('listening on %s', this.boundAddress)
    }
    this.started = true
  }

  private tlsServer (): tls.Server {
    const identity = this.identity as LinkIdentity
    const server = tls.createServer({
      key: identity.key,
      cert: identity.cert,
      requestCert: true, // the peer's identity; checked against pins, not against a CA
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      ciphers: LINK_CIPHERS,
      ALPNProtocols: [LINK_PROTOCOL],
      handshakeTimeout: this.connectTimeoutMs,
    }, (socket) => {
      const peerKey = linkPeerKey(socket.getPeerX509Certificate())
      if (peerKey === undefined) {
        this.refused(`${socket.remoteAddress}:${socket.remotePort}`, 'no identity', 'presented no Ed25519 identity')
        socket.destroy()
        return
      }
      this.accept(socket, peerKey)
    })
    // Plaintext, another protocol, a handshake that stalls: the link is dropped unanswered.
    server.on('tlsClientError', (err, socket) => { this.refused(`${socket.remoteAddress}:${socket.remotePort}`, 'no TLS', `no TLS link: ${err.message}`) })
    return server
  }

  /**
   * Logs why a peer was refused, once per REFUSAL_LOG_INTERVAL_MS per host and kind of refusal:
   * a peer that retries on new connections (a new port each) or asks ever other methods is
   * counted, not logged again.
   */
  private refused (peer: string, kind: string, why: string): void {
    const more = this.refusals.admit(`${hostOf(peer)} ${kind}`)
    if (more !== undefined) this.log.error('refused %s: %s%s', peer, why, more)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    const reason = new ShuttingDownError('transport stopped')
    this.shutdown.abort(reason)
    this.calls.failAll(reason)
    for (const conn of [...this.outbound.values()]) this.closeOutbound(conn, reason)
    for (const conn of [...this.inbound]) this.closeInbound(conn, reason)
    const server = this.server
    this.server = undefined
    if (server !== undefined) await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }

  handle (method: string, handler: RequestHandler): void { registerHandler(this.handlers, method, handler) }

  unhandle (method: string): void { this.handlers.delete(method) }

  async request (address: string, method: string, body: unknown, options: RequestOptions = {}): Promise<unknown> {
    if (!this.started) throw new ShuttingDownError('transport is not started')
    const id = this.nextId++
    const bytes = encodeFrameParts({ type: FrameType.REQUEST, id, method, body })
    if (bytes.byteLength > this.maxFrameBytes) throw new RangeError(`request of ${bytes.byteLength} bytes exceeds the frame limit`)
    let conn: Outbound | undefined
    const exchange = async (): Promise<ResponseFrame> => {
      const c = conn = this.connection(address)
      await c.ready
      if (c.closed) throw new NodeUnreachableError(`connection to ${address} closed`)
      if (options.peerKey !== undefined && c.peerKey !== undefined && !keysEqual(options.peerKey, c.peerKey)) {
        const why = `its key ${shortHex(c.peerKey)} is not the ${shortHex(options.peerKey)} its ring record names`
        this.refused(address, 'pin', why)
        throw new NodeUnreachableError(`${address} refused: ${why}`)
      }
      const response = new Promise<ResponseFrame>((resolve, reject) => { c.pending.set(id, { resolve, reject }) })
      if (c.idleTimer !== undefined) clearTimeout(c.idleTimer)
      c.writer.send(bytes)
      return response
    }
    try {
      const frame = await this.calls.track(exchange(), options.timeoutMs ?? this.rpcTimeoutMs, options.signal)
      return unwrapResponse(frame, method)
    } finally {
      // Also on timeout or abort: the id is forgotten, a late answer to it is dropped.
      if (conn !== undefined) {
        conn.pending.delete(id)
        this.armIdle(conn)
      }
    }
  }

  /** The live or connecting outbound connection to `address`, opening one if there is none. */
  private connection (address: string): Outbound {
    const existing = this.outbound.get(address)
    if (existing !== undefined) return existing
    const target = parseAddress(address)
    if (target === undefined || target.port === 0) throw new NodeUnreachableError(`not a "host:port" address: ${address}`)

    const identity = this.identity
    // Bytes arrive in memory the connection gives, handed straight to its frame reader: no
    // Buffer per chunk (TLS gives one per 16 KiB record) and no stream machinery on the path
    // every response (a block fetched, 1 MiB) takes. Node asks for that memory before each
    // read: the rest of the frame being read once it has a buffer (the socket reads, or TLS
    // decrypts, straight into the frame), else a scratch buffer the reader copies from. Node
    // offers this only to sockets it connects; accepted ones get the same (socket-reads.ts).
    const scratch = Buffer.allocUnsafe(READ_BUFFER_BYTES)
    let readTarget: () => Uint8Array = () => scratch
    let deliver: (into: Uint8Array, n: number) => void = noop
    const onread = { buffer: () => readTarget(), callback: (n: number, into: Uint8Array) => { deliver(into, n); return true } }
    const socket = identity === undefined
      ? net.connect({ host: target.host, port: target.port, onread })
      : tls.connect({
          // Node's tls.connect takes onread (as net.connect does); its type declarations omit it.
          ...({ onread } as tls.ConnectionOptions),
          host: target.host,
          port: target.port,
          key: identity.key,
          cert: identity.cert,
          rejectUnauthorized: false, // self-signed: the key is checked against the pin instead
          checkServerIdentity: () => undefined,
          minVersion: 'TLSv1.3',
          ciphers: LINK_CIPHERS,
          ALPNProtocols: [LINK_PROTOCOL],
        })
    socket.setNoDelay(true)
    let connected: () => void = noop
    let failed: (err: Error) => void = noop
    const ready = new Promise<void>((resolve, reject) => { connected = resolve; failed = reject })
    ready.catch(noop) // callers that gave up must not leave an unhandled rejection behind
    const conn: Outbound = {
      address,
      socket,
      reader: new FrameReader(this.maxFrameBytes, this.framePool),
      writer: new FrameWriter(socket),
      pending: new Map(),
      closed: false,
      ready,
      failed,
      connectTimer: setTimeout(() => {
        this.closeOutbound(conn, new NodeUnreachableError(`connecting to ${address} timed out after ${this.connectTimeoutMs} ms`))
      }, this.connectTimeoutMs),
      idleTimer: undefined,
      peerKey: undefined,
    }
    this.outbound.set(address, conn)

    socket.once(identity === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(conn.connectTimer)
      if (socket instanceof tls.TLSSocket) {
        conn.peerKey = linkPeerKey(socket.getPeerX509Certificate())
        if (conn.peerKey === undefined) {
          this.refused(address, 'no identity', 'presented no Ed25519 identity')
          this.closeOutbound(conn, new NodeUnreachableError(`${address} refused: it presented no Ed25519 identity`))
          return
        }
        if (this.ringSecret !== undefined) {
          const proof = ringSecretProof(this.ringSecret, socket)
          conn.writer.send(encodeFrameParts({ type: FrameType.REQUEST, id: HELLO_ID, method: HELLO_METHOD, body: { proof } }))
        }
      }
      this.log.trace('connected to %s', address)
      connected()
      this.armIdle(conn)
    })
    readTarget = () => conn.reader.readTarget(scratch)
    deliver = (into, n) => { this.onOutboundData(conn, into, n) }
    socket.on('error', (err: Error) => {
      this.closeOutbound(conn, new NodeUnreachableError(`${address}: ${err.message}`, { cause: err }))
    })
    socket.on('close', () => { this.closeOutbound(conn, new NodeUnreachableError(`connection to ${address} closed`)) })
    return conn
  }

  /** `n` bytes read into `into`, which the reader lent (readTarget) or the socket reuses once this returns. */
  private onOutboundData (conn: Outbound, into: Uint8Array, n: number): void {
    try {
      conn.reader.received(into, n)
      for (let bytes = conn.reader.next(); bytes !== undefined && !conn.closed; bytes = conn.reader.next()) {
        const frame = decodeFrame(bytes, true)
        if (frame.type !== FrameType.RESPONSE) throw new ProtocolError(`request frame ${frame.id} on an outbound connection`)
        const pending = conn.pending.get(frame.id)
        if (frame.id === HELLO_ID) {
          if (frame.status !== Status.OK) this.refused(conn.address, 'secret refused', `it did not take our ring secret: ${String(frame.body)}`)
        } else if (pending !== undefined) {
          conn.pending.delete(frame.id)
          pending.resolve(frame)
        } else if (frame.id > 0 && frame.id < this.nextId) {
          this.log.trace('late response %d from %s dropped', frame.id, conn.address)
        } else {
          throw new ProtocolError(`response with unknown id ${frame.id}`)
        }
      }
    } catch (err) {
      this.log.error('protocol violation by %s: %s', conn.address, (err as Error).message)
      this.closeOutbound(conn, new NodeUnreachableError(`${conn.address} broke the protocol: ${(err as Error).message}`, { cause: err }))
    }
  }

  private armIdle (conn: Outbound): void {
    if (this.idleTimeoutMs <= 0 || conn.closed || conn.pending.size > 0) return
    if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer)
    conn.idleTimer = setTimeout(() => {
      if (conn.pending.size === 0) {
        this.log.trace('closing idle connection to %s', conn.address)
        this.closeOutbound(conn, new NodeUnreachableError(`connection to ${conn.address} closed when idle`))
      }
    }, this.idleTimeoutMs)
    conn.idleTimer.unref()
  }

  private closeOutbound (conn: Outbound, reason: Error): void {
    if (conn.closed) return
    conn.closed = true
    clearTimeout(conn.connectTimer)
    if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer)
    if (this.outbound.get(conn.address) === conn) this.outbound.delete(conn.address)
    conn.socket.destroy()
    conn.writer.clear()
    conn.failed(reason)
    const pending = [...conn.pending.values()]
    conn.pending.clear()
    for (const p of pending) p.reject(reason)
  }

  private accept (socket: net.Socket, peerKey: Uint8Array | undefined): void {
    if (!this.started) {
      socket.destroy()
      return
    }
    socket.setNoDelay(true)
    const conn: Inbound = {
      socket,
      remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`,
      // Requests are never given back to the pool (only a reader of responses knows when a
      // block is done with), so they are read into memory of their own.
      reader: new FrameReader(this.maxFrameBytes),
      writer: new FrameWriter(socket),
      controller: new AbortController(),
      inflight: 0,
      closed: false,
      peerKey,
      member: this.ringSecret === undefined,
    }
    setMaxListeners(Infinity, conn.controller.signal) // handlers in flight may each listen
    this.inbound.add(conn)
    this.log.trace('connection from %s', conn.remoteAddress)
    /** Runs one read's hand-over to the frame reader, then serves what it completed. */
    const take = (read: () => void): void => {
      try {
        read()
      } catch (err) {
        this.violation(conn, err)
        return
      }
      this.pump(conn)
    }
    const scratch = Buffer.allocUnsafe(READ_BUFFER_BYTES)
    const inPlace = readAcceptedInPlace(socket, {
      push: (chunk) => { conn.reader.push(chunk) },
      target: () => conn.reader.readTarget(scratch),
      received: (into, n) => { take(() => { conn.reader.received(into, n) }) },
    })
    if (inPlace) {
      socket.resume()
      this.pump(conn)
    } else {
      socket.on('data', (chunk: Buffer) => { take(() => { conn.reader.push(chunk) }) })
    }
    socket.on('error', (err) => { this.log.trace('connection from %s failed: %s', conn.remoteAddress, err.message) })
    socket.on('close', () => { this.closeInbound(conn, new AbortError(`connection from ${conn.remoteAddress} closed`)) })
  }

  /** Starts handlers for the buffered requests while fewer than maxConcurrent are in flight; reads more only then. */
  private pump (conn: Inbound): void {
    try {
      while (!conn.closed && conn.inflight < this.maxConcurrent) {
        const bytes = conn.reader.next()
        if (bytes === undefined) break
        const frame = decodeFrame(bytes, true)
        if (frame.type !== FrameType.REQUEST) throw new ProtocolError(`response frame ${frame.id} on an inbound connection`)
        if (frame.id === HELLO_ID && frame.method === HELLO_METHOD) {
          this.hello(conn, frame)
        } else if (!conn.member) {
          // Answered, not dropped: the peer learns why at once instead of timing out.
          this.refused(conn.remoteAddress, 'no secret', `asked ${frame.method} without the ring secret`)
          const why = new ForbiddenError('this ring is private: its members prove its secret (--ring-secret)')
          conn.writer.send(encodeFrameParts({ type: FrameType.RESPONSE, id: frame.id, status: statusForError(why), body: why.message }))
        } else {
          conn.inflight++
          void this.serve(conn, frame)
        }
      }
    } catch (err) {
      this.violation(conn, err)
      return
    }
    if (conn.closed) return
    if (conn.inflight >= this.maxConcurrent) conn.socket.pause()
    else if (conn.socket.isPaused()) conn.socket.resume()
  }

  /** The ring-secret proof that opens a link (its first frame): checked, and answered. */
  private hello (conn: Inbound, frame: RequestFrame): void {
    let status: number = Status.OK
    let body: unknown = null
    if (this.ringSecret !== undefined) {
      const proof = (frame.body as { proof?: unknown } | null)?.proof
      const want = ringSecretProof(this.ringSecret, conn.socket as tls.TLSSocket)
      conn.member = proof instanceof Uint8Array && proof.length === want.length && timingSafeEqual(proof, want)
      if (!conn.member) {
        this.refused(conn.remoteAddress, 'wrong secret', 'its ring secret is not this ring\'s')
        status = Status.FORBIDDEN
        body = 'wrong ring secret'
      }
    }
    conn.writer.send(encodeFrameParts({ type: FrameType.RESPONSE, id: frame.id, status: status as ResponseFrame['status'], body }))
  }

  private async serve (conn: Inbound, frame: RequestFrame): Promise<void> {
    try {
      const context = { remoteAddress: conn.remoteAddress, signal: conn.controller.signal, peerKey: conn.peerKey }
      const response = await dispatchRequest(this.handlers, frame, context, this.log)
      if (conn.closed) return // the asker is gone: nobody to answer
      conn.writer.send(this.encodeResponse(response, frame.method), () => {
        conn.inflight--
        this.pump(conn)
      })
    } catch (err) {
      this.log.error('serving %s from %s failed: %o', frame.method, conn.remoteAddress, err)
      this.closeInbound(conn, new AbortError('serving failed'))
    }
  }

  /** Encodes a response; one that cannot be sent becomes an error the asker can see. */
  private encodeResponse (response: ResponseFrame, method: string): FrameParts {
    let problem: string
    try {
      const bytes = encodeFrameParts(response)
      if (bytes.byteLength <= this.maxFrameBytes) return bytes
      problem = `response of ${bytes.byteLength} bytes exceeds the frame limit`
    } catch (err) {
      problem = `unencodable response: ${(err as Error).message}`
    }
    this.log.error('%s: %s', method, problem)
    return encodeFrameParts({ type: FrameType.RESPONSE, id: response.id, status: Status.ERROR, body: problem })
  }

  private violation (conn: Inbound, err: unknown): void {
    this.log.error('protocol violation by %s: %s', conn.remoteAddress, (err as Error).message)
    this.closeInbound(conn, new AbortError(`connection from ${conn.remoteAddress} broke the protocol`))
  }

  private closeInbound (conn: Inbound, reason: Error): void {
    if (conn.closed) return
    conn.closed = true
    this.inbound.delete(conn)
    conn.socket.destroy()
    conn.writer.clear()
    conn.controller.abort(reason)
  }
}

interface HostPort { host: string, port: number }

interface Pending {
  resolve: (frame: ResponseFrame) => void
  reject: (err: Error) => void
}

interface Outbound {
  readonly address: string
  readonly socket: net.Socket
  readonly reader: FrameReader
  readonly writer: FrameWriter
  /** Requests sent on this connection and not yet answered, by id. */
  readonly pending: Map<number, Pending>
  closed: boolean
  /** Resolves once connected; rejects with NodeUnreachableError if the connect fails. */
  readonly ready: Promise<void>
  readonly failed: (err: Error) => void
  readonly connectTimer: NodeJS.Timeout
  idleTimer: NodeJS.Timeout | undefined
  /** The identity the peer proved in the TLS handshake; undefined on plaintext or until connected. */
  peerKey: Uint8Array | undefined
}

interface Inbound {
  readonly socket: net.Socket
  readonly remoteAddress: string
  readonly reader: FrameReader
  readonly writer: FrameWriter
  /** Aborted when the connection closes or the transport stops; handlers see it. */
  readonly controller: AbortController
  /** Requests whose response has not been handed to the socket yet. */
  inflight: number
  closed: boolean
  /** The identity the peer proved in the TLS handshake; undefined on plaintext. */
  readonly peerKey: Uint8Array | undefined
  /** Whether the peer proved the ring secret (always, on a public ring). */
  member: boolean
}

function noop (): void {}

/** What proves the ring secret on one TLS link: an HMAC of keying material only the two ends of that link know. */
function ringSecretProof (secret: Uint8Array, socket: tls.TLSSocket): Uint8Array {
  const material = socket.exportKeyingMaterial(32, RING_SECRET_LABEL, Buffer.alloc(0))
  return new Uint8Array(createHmac('sha256', secret).update(material).digest())
}

/** Splits "host:port" (IPv6 hosts in brackets); undefined if it is not one. */
function parseAddress (address: string): HostPort | undefined {
  const colon = address.lastIndexOf(':')
  if (colon <= 0) return undefined
  let host = address.slice(0, colon)
  const portText = address.slice(colon + 1)
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  if (host === '' || !/^\d{1,5}$/.test(portText)) return undefined
  const port = Number(portText)
  return port <= 65_535 ? { host, port } : undefined
}

function formatAddress (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
