import { randomBytes } from 'node:crypto'
import net, { type AddressInfo } from 'node:net'
import { format } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { ForbiddenError, NodeUnreachableError, sleep, type ComponentLogger } from '../../src/core/index.js'
import { FrameType, TcpTransport, encodeFrame, type RequestContext, type TcpTransportInit } from '../../src/net/index.js'

/** A logger that keeps the lines its components write. */
function recordingLogger (): { logger: ComponentLogger, lines: string[] } {
  const lines: string[] = []
  const write = (fmt: string, ...args: unknown[]): void => { lines.push(format(fmt, ...args)) }
  return {
    lines,
    logger: { forComponent: () => Object.assign((fmt: string, ...args: unknown[]) => { write(fmt, ...args) }, { error: write, trace: () => {} }) },
  }
}

/** A TCP relay between a client and `target` that keeps every byte it carries, both ways. */
async function wiretap (target: string): Promise<{ address: string, bytes: () => Buffer, close: () => Promise<void> }> {
  const [host, port] = target.split(':') as [string, string]
  const seen: Buffer[] = []
  const sockets: net.Socket[] = []
  const relay = net.createServer((inbound) => {
    const outbound = net.connect({ host, port: Number(port) })
    sockets.push(inbound, outbound)
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      from.on('data', (chunk: Buffer) => { seen.push(chunk); to.write(chunk) })
      from.on('error', () => { to.destroy() })
      from.on('close', () => { to.destroy() })
    }
  })
  await new Promise<void>((resolve) => { relay.listen(0, '127.0.0.1', resolve) })
  return {
    address: `127.0.0.1:${(relay.address() as AddressInfo).port}`,
    bytes: () => Buffer.concat(seen),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => { relay.close(() => { resolve() }) })
    },
  }
}

describe('TcpTransport links: TLS 1.3, identities and the ring secret', () => {
  const made: TcpTransport[] = []
  const closers: Array<() => Promise<void>> = []
  async function transport (init: TcpTransportInit = {}, logger?: ComponentLogger): Promise<TcpTransport> {
    const t = new TcpTransport({ logger }, init)
    made.push(t)
    await t.start()
    return t
  }
  async function server (init: TcpTransportInit = {}, logger?: ComponentLogger): Promise<TcpTransport> {
    const t = await transport({ listen: '127.0.0.1:0', ...init }, logger)
    t.handle('echo', (body) => Promise.resolve(body))
    t.handle('who', (_body, ctx: RequestContext) => Promise.resolve(ctx.peerKey ?? null))
    return t
  }

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    for (const t of made.splice(0)) await t.stop()
  })

  it('a marker sent over the link never appears on the wire; over plaintext it does', async () => {
    const marker = `cfs-marker-${randomBytes(8).toString('hex')}`
    for (const encrypt of [true, false]) {
      const s = await server({ encrypt })
      const tap = await wiretap(s.address)
      closers.push(tap.close)
      const c = await transport({ encrypt })
      expect(await c.request(tap.address, 'echo', { text: marker, bytes: Buffer.from(marker) })).toEqual({ text: marker, bytes: new Uint8Array(Buffer.from(marker)) })
      expect(tap.bytes().length).toBeGreaterThan(2 * marker.length) // the tap saw the exchange
      expect(tap.bytes().includes(marker), `marker on the wire, encrypt: ${encrypt}`).toBe(!encrypt)
    }
  })

  it('the server sees the key the client proved, and the client pins the server\'s', async () => {
    const s = await server()
    const c = await transport()
    expect(await c.request(s.address, 'who', null, { peerKey: s.publicKey })).toEqual(c.publicKey)
  })

  it('a peer with another key than its record is refused before the request leaves, and logged once', async () => {
    const s = await server()
    const { logger, lines } = recordingLogger()
    const c = await transport({}, logger)
    const pin = new Uint8Array(randomBytes(32))
    for (let i = 0; i < 3; i++) {
      await expect(c.request(s.address, 'echo', i, { peerKey: pin })).rejects.toBeInstanceOf(NodeUnreachableError)
    }
    expect(lines.filter((l) => l.includes('refused') && l.includes('ring record'))).toHaveLength(1)
    expect(await c.request(s.address, 'echo', 'still fine', { peerKey: s.publicKey })).toBe('still fine')
  })

  it('a well-formed plaintext request frame gets no answer from an encrypted endpoint', async () => {
    const { logger, lines } = recordingLogger()
    const s = await server({}, logger)
    const [host, port] = s.address.split(':') as [string, string]
    const socket = net.connect({ host, port: Number(port) })
    socket.on('error', () => {})
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => { received.push(chunk) })
    const closed = new Promise<void>((resolve) => { socket.once('close', () => { resolve() }) })
    await new Promise<void>((resolve) => { socket.once('connect', resolve) })
    const frame = encodeFrame({ type: FrameType.REQUEST, id: 1, method: 'echo', body: 'hello' })
    const header = Buffer.alloc(4)
    header.writeUInt32BE(frame.length, 0)
    socket.write(Buffer.concat([header, frame]))
    expect(await Promise.race([closed.then(() => 'closed'), sleep(5_000).then(() => 'open')])).toBe('closed')
    // At most a TLS alert record (content type 21), never a frame.
    const answer = Buffer.concat(received)
    expect(answer.length === 0 || answer[0] === 21).toBe(true)
    expect(answer.includes('hello')).toBe(false)
    expect(lines.some((l) => l.includes('refused') && l.includes('no TLS link'))).toBe(true)
  })

  it('encrypted and plaintext endpoints cannot talk', async () => {
    const tlsServer = await server()
    const plainServer = await server({ encrypt: false })
    await expect((await transport({ encrypt: false })).request(tlsServer.address, 'echo', 1, { timeoutMs: 3_000 })).rejects.toThrow()
    await expect((await transport()).request(plainServer.address, 'echo', 1, { timeoutMs: 3_000 })).rejects.toThrow()
  })

  it('a private ring answers FORBIDDEN to links that do not prove its secret, and serves those that do', async () => {
    const secret = new Uint8Array(randomBytes(32))
    const { logger, lines } = recordingLogger()
    const s = await server({ ringSecret: secret }, logger)
    const member = await transport({ ringSecret: secret })
    expect(await member.request(s.address, 'echo', 'member')).toBe('member')
    const stranger = await transport()
    await expect(stranger.request(s.address, 'echo', 'stranger')).rejects.toBeInstanceOf(ForbiddenError)
    const impostor = await transport({ ringSecret: new Uint8Array(randomBytes(32)) })
    await expect(impostor.request(s.address, 'echo', 'impostor')).rejects.toBeInstanceOf(ForbiddenError)
    expect(lines.some((l) => l.includes('without the ring secret'))).toBe(true)
    expect(lines.some((l) => l.includes('ring secret is not this ring'))).toBe(true)
    // A member's secret is no use to a public ring, and does not hurt there.
    const open = await server()
    expect(await member.request(open.address, 'echo', 'public')).toBe('public')
  })
})
