import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { Listeners } from '../../../src/core/index.js'
import { MemoryBlockStore } from '../../../src/dhash/index.js'
import { Dashboard } from '../../../src/node/dashboard.js'
import { HttpStatusServer } from '../../../src/node/http-status.js'
import type { RingSnapshot } from '../../../src/node/index.js'

// The dashboard's routes on the read-only HTTP server (on 127.0.0.1:0): the page and its
// script, /ring, the event stream, the Host check against DNS rebinding, and read-only answers.

const snap = (at: number, live: number): RingSnapshot => ({
  at, from: 'a:1', summary: { live, failed: 0, vnodes: live, blocks: 0, bytes: 0, capacity: 0, underReplicated: 0, backlog: 0, volumes: 0 }, nodes: [], vnodes: [], volumes: [],
})

let server: HttpStatusServer | undefined
let dashboard: Dashboard | undefined
afterEach(async () => {
  dashboard?.close()
  await server?.stop()
  server = dashboard = undefined
})

interface Served { base: string, changed: Listeners<[RingSnapshot]>, current: { snapshot: RingSnapshot | undefined } }

async function serve (init: { maxEventStreams?: number, heartbeatMs?: number } = {}): Promise<Served> {
  const changed = new Listeners<[RingSnapshot]>()
  const current: { snapshot: RingSnapshot | undefined } = { snapshot: undefined }
  dashboard = new Dashboard({ snapshot: () => current.snapshot, onChange: (l) => changed.add(l) }, { listenHost: '127.0.0.1', ...init })
  server = new HttpStatusServer({ status: () => ({ address: 'a:1', vnodes: [] }), blocks: new MemoryBlockStore(), routes: [dashboard.route] }, { listen: '127.0.0.1:0' })
  await server.start()
  return { base: `http://${server.address}`, changed, current }
}

/** GET with a chosen Host header (fetch does not let one set it). */
async function getWithHost (url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
}

/** Reads server-sent events until `count` have come (or the deadline). */
async function readEvents (res: Response, count: number): Promise<Array<{ event: string, data: unknown }>> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const out: Array<{ event: string, data: unknown }> = []
  let text = ''
  while (out.length < count) {
    const { value, done } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
    let end: number
    while ((end = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, end)
      text = text.slice(end + 2)
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event !== undefined && data !== undefined) out.push({ event, data: JSON.parse(data) })
    }
  }
  await reader.cancel()
  return out
}

describe('Dashboard routes', () => {
  it('serves the page and its script with headers that allow nothing from elsewhere', async () => {
    const { base } = await serve()
    const page = await fetch(`${base}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('content-security-policy')).toContain('default-src \'none\'')
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    const html = await page.text()
    expect(html).toContain('<script src="/dashboard.js" defer></script>')
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//) // nothing external
    const js = await fetch(`${base}/dashboard.js`)
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const code = await js.text()
    expect(code).toContain('new EventSource(\'/events\')')
    expect(code).not.toContain('innerHTML')
  })

  it('answers /ring with the snapshot (503 before the first round); other paths and methods are not its business', async () => {
    const { base, current } = await serve()
    const early = await fetch(`${base}/ring`)
    expect(early.status).toBe(503)
    current.snapshot = snap(5, 3)
    expect(await (await fetch(`${base}/ring`)).json()).toEqual(snap(5, 3))
    expect((await fetch(`${base}/nope`)).status).toBe(404)
    expect((await fetch(`${base}/ring`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${base}/status`)).status).toBe(200) // the server's own routes still answer
  })

  it('refuses Host names other than IP addresses, localhost and the listen host (DNS rebinding)', async () => {
    const { base, current } = await serve()
    current.snapshot = snap(1, 1)
    const port = new URL(base).port
    expect(await getWithHost(`${base}/ring`, `127.0.0.1:${port}`)).toBe(200)
    expect(await getWithHost(`${base}/ring`, `localhost:${port}`)).toBe(200)
    expect(await getWithHost(`${base}/ring`, `[::1]:${port}`)).toBe(200)
    expect(await getWithHost(`${base}/`, `attacker.example:${port}`)).toBe(403)
    expect(await getWithHost(`${base}/events`, 'attacker.example')).toBe(403)
  })

  it('streams the snapshot on connect, each change, and heartbeats', async () => {
    const { base, changed, current } = await serve({ heartbeatMs: 50 })
    current.snapshot = snap(1, 2)
    const res = await fetch(`${base}/events`)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const events = readEvents(res, 3)
    await expect.poll(() => changed.size).toBe(1)
    changed.emit(snap(2, 3))
    const got = await events
    expect(got[0]).toEqual({ event: 'ring', data: snap(1, 2) })
    expect(got[1]).toEqual({ event: 'ring', data: snap(2, 3) })
    expect(got[2]?.event).toBe('heartbeat')
    await expect.poll(() => changed.size).toBe(0) // the listener goes with the connection
  })

  it('serves at most maxEventStreams streams at once', async () => {
    const { base } = await serve({ maxEventStreams: 1 })
    const first = await fetch(`${base}/events`)
    expect(first.status).toBe(200)
    expect((await fetch(`${base}/events`)).status).toBe(503)
    await first.body?.cancel()
  })
})
