import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import { BadRequestError, keyFromHex, listenError, toHex, type Key } from '../core/index.js'
import type { BlockStore } from '../dhash/index.js'
import type { ScrapeableMetrics } from './metrics.js'
import type { NodeStatus } from './status.js'

/** Keys listed per page of GET /keys at most. */
export const DEFAULT_MAX_PAGE = 1000

/** A further GET route (the dashboard): answers and returns true, or returns false to pass the request on. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean

export interface HttpStatusInit {
  /** "host:port"; port 0 picks a free port. */
  listen: string
  /** Keys listed per page at most. @default DEFAULT_MAX_PAGE */
  maxPage?: number
}

/** What the HTTP view shows; a route whose part is absent is 404 (a mount through a ring has no store). */
export interface HttpStatusComponents {
  status?: () => NodeStatus
  blocks?: BlockStore
  /** Served as GET /metrics. */
  metrics?: Pick<ScrapeableMetrics, 'contentType' | 'scrape'>
  /** Asked in turn before a 404 (the dashboard's). */
  routes?: readonly HttpRoute[]
}

/**
 * Read-only HTTP view of a node, as the seed projects' file-listing endpoint was:
 * GET /status (the same JSON as `cfs status --json`), GET /keys?after=HEX&limit=N (stored keys
 * in ring order, with kind, size, owner and expiry; `next` continues the listing), GET /metrics
 * (Prometheus text format). Further GET routes come from `routes` (the dashboard,
 * dashboard.ts). Anything else is 404; anything but GET/HEAD is 405.
 */
export class HttpStatusServer {
  private server: Server | undefined
  private bound = ''

  constructor (private readonly components: HttpStatusComponents, private readonly init: HttpStatusInit) {}

  get address (): string { return this.bound }

  async start (): Promise<void> {
    const i = this.init.listen.lastIndexOf(':')
    const host = this.init.listen.slice(0, i)
    const port = Number(this.init.listen.slice(i + 1))
    this.server = createServer((req, res) => {
      const send = (code: number, body: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body) + '\n')
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') { send(405, { error: 'read-only: GET only' }); return }
      const url = new URL(req.url ?? '/', 'http://status')
      const { status, blocks, metrics } = this.components
      if (url.pathname === '/status' && status !== undefined) { send(200, status()); return }
      if (url.pathname === '/keys' && blocks !== undefined) {
        this.keys(blocks, url).then((body) => { send(200, body) }, (err: unknown) => { send(400, { error: (err as Error).message }) })
        return
      }
      if (url.pathname === '/metrics' && metrics !== undefined) {
        metrics.scrape().then((text) => {
          res.writeHead(200, { 'content-type': metrics.contentType })
          res.end(text)
        }, (err: unknown) => { send(500, { error: (err as Error).message }) })
        return
      }
      if (this.components.routes?.some((route) => route(req, res, url)) === true) return
      const paths = [status === undefined ? '' : '/status', blocks === undefined ? '' : '/keys?after=HEX&limit=N', metrics === undefined ? '' : '/metrics']
      send(404, { error: 'not found', paths: paths.filter((p) => p !== '') })
    })
    this.server.listen(port, host)
    try {
      await once(this.server, 'listening')
    } catch (err) {
      this.server = undefined
      throw listenError(err, this.init.listen)
    }
    const a = this.server.address()
    this.bound = typeof a === 'object' && a !== null ? `${host}:${a.port}` : this.init.listen
  }

  async stop (): Promise<void> {
    const s = this.server
    if (s === undefined) return
    this.server = undefined
    s.closeAllConnections()
    await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
  }

  private async keys (
    blocks: BlockStore,
    url: URL,
  ): Promise<{ keys: Array<{ key: string, kind: string, size: number, owner: string, expiresAt: string }>, next: string | null }> {
    const maxPage = this.init.maxPage ?? DEFAULT_MAX_PAGE
    const limit = Math.min(maxPage, Math.max(1, Number(url.searchParams.get('limit') ?? maxPage) || maxPage))
    const after = url.searchParams.get('after')
    if (after !== null && !/^[0-9a-f]{64}$/.test(after)) throw new BadRequestError('after must be a 64-digit hex key')
    const top = new Uint8Array(32).fill(255) as Key
    // (after, top] in ring order; from top to top is the whole ring, starting at the bottom.
    const interval = { from: after === null ? top : keyFromHex(after), to: top }
    const out: Array<{ key: string, kind: string, size: number, owner: string, expiresAt: string }> = []
    let more = false
    for await (const key of blocks.keys(interval)) {
      if (out.length === limit) { more = true; break }
      const meta = await blocks.getMeta(key)
      if (meta === undefined) continue
      out.push({ key: toHex(key), kind: meta.kind === 0 ? 'content' : 'root', size: meta.size, owner: meta.owner, expiresAt: new Date(meta.expiresAt).toISOString() })
    }
    return { keys: out, next: more ? (out.at(-1)?.key ?? null) : null }
  }
}
