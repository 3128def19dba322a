import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isIP } from 'node:net'
import type { HttpRoute } from './http-status.js'
import type { RingSnapshot } from './ring-snapshot.js'

/** Event streams (GET /events) served at once at most; more get 503. */
export const DEFAULT_MAX_EVENT_STREAMS = 16
/** Milliseconds between heartbeat events on an idle event stream. */
export const DEFAULT_HEARTBEAT_MS = 15_000

/** The page and its script, served from the package (no build step): assets/dashboard/. */
const ASSETS = new URL('../../assets/dashboard/', import.meta.url)
const FILES: Record<string, { file: string, type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
}
/** The dashboard's paths, for the 404 answer. */
export const DASHBOARD_PATHS = ['/', '/ring', '/events']

/**
 * Headers of every dashboard answer: nothing loads from elsewhere, no framing, no caching.
 * Styles may be inline (the page's one <style>); scripts come only from this server.
 */
const SECURITY_HEADERS = {
  'content-security-policy': [
    'default-src \'none\'', 'script-src \'self\'', 'connect-src \'self\'', 'style-src \'unsafe-inline\'', 'img-src \'self\'',
    'base-uri \'none\'', 'form-action \'none\'', 'frame-ancestors \'none\'',
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}

export interface DashboardComponents {
  /** The latest ring snapshot; undefined before the view's first round. */
  snapshot: () => RingSnapshot | undefined
  /** Upcall with each changed snapshot (RingView.onChange); returns unsubscribe. */
  onChange: (listener: (snapshot: RingSnapshot) => void) => () => void
}

export interface DashboardInit {
  /** The host the HTTP server listens on: requests naming it in Host are served too. */
  listenHost: string
  /** @default DEFAULT_MAX_EVENT_STREAMS */
  maxEventStreams?: number
  /** @default DEFAULT_HEARTBEAT_MS */
  heartbeatMs?: number
}

/**
 * The dashboard's routes on the node's read-only HTTP server: GET / (the page), /dashboard.js,
 * /ring (the ring snapshot as JSON) and /events (server-sent events: a `ring` event with the
 * snapshot on connect and whenever it changes, a `heartbeat` event every heartbeatMs).
 * Requests whose Host header is not an IP address, `localhost` or the listen host are refused
 * (403), so a web page elsewhere cannot read the dashboard through DNS rebinding.
 */
export class Dashboard {
  private readonly files = new Map<string, string>()
  private readonly streams = new Set<ServerResponse>()
  private readonly maxEventStreams: number
  private readonly heartbeatMs: number

  constructor (private readonly components: DashboardComponents, private readonly init: DashboardInit) {
    this.maxEventStreams = init.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS
    this.heartbeatMs = init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  }

  /** The route to give HttpStatusServer. */
  readonly route: HttpRoute = (req, res, url) => {
    const path = url.pathname
    if (path === '/favicon.ico') { res.writeHead(204, SECURITY_HEADERS); res.end(); return true }
    if (FILES[path] === undefined && path !== '/ring' && path !== '/events') return false
    if (!this.allowedHost(req.headers.host)) {
      this.send(res, 403, 'application/json', JSON.stringify({ error: 'unexpected Host header: use the address the node listens on' }) + '\n')
      return true
    }
    if (path === '/ring') this.ring(res)
    else if (path === '/events') this.events(req, res)
    else this.file(res, FILES[path] as { file: string, type: string })
    return true
  }

  /** Ends every event stream (the server closes their connections too). */
  close (): void {
    for (const res of this.streams) res.end()
    this.streams.clear()
  }

  private allowedHost (host: string | undefined): boolean {
    if (host === undefined) return true // HTTP/1.0 without Host: not a browser
    let name: string
    try {
      name = new URL(`http://${host}`).hostname
    } catch {
      return false
    }
    const bare = name.startsWith('[') ? name.slice(1, -1) : name
    return isIP(bare) !== 0 || bare === 'localhost' || bare === this.init.listenHost
  }

  private send (res: ServerResponse, code: number, type: string, body: string): void {
    res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': type })
    res.end(body)
  }

  private ring (res: ServerResponse): void {
    const snapshot = this.components.snapshot()
    if (snapshot === undefined) {
      res.setHeader('retry-after', '1')
      this.send(res, 503, 'application/json', JSON.stringify({ error: 'the ring view has not finished its first round' }) + '\n')
      return
    }
    this.send(res, 200, 'application/json', JSON.stringify(snapshot) + '\n')
  }

  private file (res: ServerResponse, f: { file: string, type: string }): void {
    const cached = this.files.get(f.file)
    if (cached !== undefined) { this.send(res, 200, f.type, cached); return }
    readFile(new URL(f.file, ASSETS), 'utf8').then((text) => {
      this.files.set(f.file, text)
      this.send(res, 200, f.type, text)
    }, (err: unknown) => {
      this.send(res, 500, 'application/json', JSON.stringify({ error: `dashboard asset ${f.file} missing: ${(err as Error).message}` }) + '\n')
    })
  }

  private events (req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= this.maxEventStreams) {
      res.setHeader('retry-after', '5')
      this.send(res, 503, 'application/json', JSON.stringify({ error: `at most ${this.maxEventStreams} event streams at once` }) + '\n')
      return
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' })
    if (req.method === 'HEAD') { res.end(); return }
    const event = (name: string, data: unknown): void => { res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`) }
    res.write('retry: 2000\n\n')
    const first = this.components.snapshot()
    if (first !== undefined) event('ring', first)
    const unsubscribe = this.components.onChange((s) => { event('ring', s) })
    const heartbeat = setInterval(() => { event('heartbeat', { at: Date.now() }) }, this.heartbeatMs)
    heartbeat.unref()
    this.streams.add(res)
    res.on('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
      this.streams.delete(res)
    })
  }
}
