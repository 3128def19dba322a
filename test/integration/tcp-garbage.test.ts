import net from 'node:net'
import tls from 'node:tls'
import { pack } from 'msgpackr'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NodeUnreachableError, SeededRandom, isCfsError, sleep } from '../../src/core/index.js'
import {
  FrameType, LINK_PROTOCOL, Status, TcpTransport, encodeFrame, makeLinkIdentity, type LinkIdentity, type RequestContext, type TcpTransportInit,
} from '../../src/net/index.js'

/** The 4-byte big-endian length prefix every frame carries. */
function prefix (length: number): Uint8Array {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(length >>> 0, 0)
  return header
}

function framed (frame: Uint8Array): Uint8Array {
  return Buffer.concat([prefix(frame.length), frame])
}

// Over TLS (the default) the attacker is a peer with an identity of its own that completed the
// handshake: authentication says who sent the bytes, not that they are sane. In plaintext the
// same framing code faces the bytes directly.
describe.each([{ encrypt: true }, { encrypt: false }])('TcpTransport facing hostile bytes (encrypt: $encrypt)', ({ encrypt }) => {
  /** A transport of this suite's kind. */
  const transport = (init: TcpTransportInit = {}): TcpTransport => new TcpTransport({}, { ...init, encrypt })
  let attackerIdentity: LinkIdentity
  let server: TcpTransport
  let client: TcpTransport
  let attackers: net.Socket[]
  /** The client's socket as the server saw it, from the connection opened before any attack. */
  let clientSeenAs: string

  beforeEach(async () => {
    attackers = []
    attackerIdentity ??= await makeLinkIdentity()
    server = transport({ listen: '127.0.0.1:0' })
    server.handle('echo', (body) => Promise.resolve(body))
    server.handle('whoami', (_body, ctx: RequestContext) => Promise.resolve(ctx.remoteAddress))
    await server.start()
    client = transport()
    await client.start()
    expect(client.address).toBe('')
    clientSeenAs = await client.request(server.address, 'whoami', null) as string
  })

  afterEach(async () => {
    for (const socket of attackers) socket.destroy()
    await client.stop()
    await server.stop()
  })

  /** Opens a raw socket to the server; `closed` settles when the socket closes, whoever closed it. */
  async function connectRaw (): Promise<{ socket: net.Socket, closed: Promise<void> }> {
    const [host, port] = server.address.split(':') as [string, string]
    const socket = encrypt
      ? tls.connect({
          host, port: Number(port), key: attackerIdentity.key, cert: attackerIdentity.cert,
          rejectUnauthorized: false, checkServerIdentity: () => undefined, ALPNProtocols: [LINK_PROTOCOL],
        })
      : net.connect({ host, port: Number(port) })
    attackers.push(socket)
    socket.on('error', () => {}) // ECONNRESET is the expected outcome
    const closed = new Promise<void>((resolve) => { socket.once('close', () => { resolve() }) })
    await new Promise<void>((resolve, reject) => {
      socket.once(encrypt ? 'secureConnect' : 'connect', resolve)
      socket.once('error', reject)
    })
    return { socket, closed }
  }

  /** Sends the bytes and expects the server to hang up on us without any help from our side. */
  async function expectHangUp (...chunks: Uint8Array[]): Promise<void> {
    const { socket, closed } = await connectRaw()
    for (const chunk of chunks) socket.write(chunk)
    const outcome = await Promise.race([closed.then(() => 'closed'), sleep(5_000).then(() => 'still open')])
    expect(outcome).toBe('closed')
  }

  /** The legitimate client still works, on the very connection it opened before the attack. */
  async function expectServerHealthy (): Promise<void> {
    const payload = { ok: new Uint8Array([1, 2, 3]), n: 7 }
    expect(await client.request(server.address, 'echo', payload)).toEqual(payload)
    expect(await client.request(server.address, 'whoami', null)).toBe(clientSeenAs)
    const fresh = transport()
    await fresh.start()
    try {
      expect(await fresh.request(server.address, 'echo', 'fresh')).toBe('fresh')
    } finally {
      await fresh.stop()
    }
  }

  it('(a) random garbage bytes: the server hangs up on the sender only', async () => {
    const random = new SeededRandom(7)
    const garbage = random.bytes(4096)
    garbage[0] = 0xde // declares a length far beyond the limit
    await expectHangUp(garbage)
    await expectServerHealthy()
    // A plausible length followed by bytes MessagePack never uses.
    await expectHangUp(prefix(64), new Uint8Array(64).fill(0xc1))
    await expectServerHealthy()
  })

  it('(b) a valid prefix and a truncated frame, then the sender closes', async () => {
    const frame = encodeFrame({ type: FrameType.REQUEST, id: 1, method: 'echo', body: new Uint8Array(1000) })
    const { socket, closed } = await connectRaw()
    socket.write(prefix(frame.length))
    socket.write(frame.subarray(0, 100))
    await sleep(20)
    socket.end()
    await closed
    await expectServerHealthy()
  })

  it('(c) a length prefix declaring 1 GiB is refused at once', async () => {
    await expectHangUp(prefix(1024 * 1024 * 1024))
    await expectServerHealthy()
    await expectHangUp(prefix(0xffff_ffff), new Uint8Array(16))
    await expectServerHealthy()
  })

  it('(d) well-framed MessagePack that is not a valid frame', async () => {
    await expectHangUp(framed(pack([9, 9, 9, 9])))
    await expectServerHealthy()
    await expectHangUp(framed(pack('just a string')))
    await expectServerHealthy()
    await expectHangUp(framed(pack([0, -1, 'echo', null])))
    await expectServerHealthy()
    await expectHangUp(framed(new Uint8Array(0)))
    await expectServerHealthy()
    // A response where only requests may arrive, with an id nobody issued.
    await expectHangUp(framed(encodeFrame({ type: FrameType.RESPONSE, id: 987_654, status: Status.OK, body: 'forged' })))
    await expectServerHealthy()
  })

  it('(e) a request whose method name is 10 KB long', async () => {
    await expectHangUp(framed(encodeFrame({ type: FrameType.REQUEST, id: 1, method: 'm'.repeat(10 * 1024), body: null })))
    await expectServerHealthy()
  })

  it('a valid request before the garbage is answered before the hang-up', async () => {
    const { socket, closed } = await connectRaw()
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => { received.push(chunk) })
    socket.write(framed(encodeFrame({ type: FrameType.REQUEST, id: 5, method: 'echo', body: 'hi' })))
    await sleep(50)
    socket.write(framed(pack('garbage')))
    await closed
    const expected = framed(encodeFrame({ type: FrameType.RESPONSE, id: 5, status: Status.OK, body: 'hi' }))
    expect(Buffer.concat(received)).toEqual(Buffer.from(expected))
    await expectServerHealthy()
  })

  it('parses frames split anywhere and frames sent back to back', async () => {
    const { socket } = await connectRaw()
    socket.setNoDelay(true)
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => { received.push(chunk) })
    const request = (id: number): Uint8Array => framed(encodeFrame({ type: FrameType.REQUEST, id, method: 'echo', body: { id } }))
    const response = (id: number): Buffer => Buffer.from(framed(encodeFrame({ type: FrameType.RESPONSE, id, status: Status.OK, body: { id } })))
    const one = request(1)
    for (const byte of one) {
      socket.write(Uint8Array.of(byte))
      await sleep(1)
    }
    socket.write(Buffer.concat([request(2), request(3), request(4).subarray(0, 3)]))
    await sleep(5)
    socket.write(request(4).subarray(3))
    const expected = Buffer.concat([response(1), response(2), response(3), response(4)])
    await expect.poll(() => Buffer.concat(received).length).toBe(expected.length)
    expect(Buffer.concat(received)).toEqual(expected)
  })

  it('1,000 concurrent 64 KiB echoes complete, each with its own payload', async () => {
    const payloads = Array.from({ length: 1_000 }, (_, i) => {
      const bytes = new Uint8Array(64 * 1024)
      const view = new DataView(bytes.buffer)
      for (let off = 0; off < bytes.length; off += 4) view.setUint32(off, (i * 2_654_435_761 + off) >>> 0)
      return bytes
    })
    const replies = await Promise.all(payloads.map((p, i) =>
      client.request(server.address, 'echo', { i, p }, { timeoutMs: 60_000 }))) as Array<{ i: number, p: Uint8Array }>
    replies.forEach((reply, i) => {
      expect(reply.i).toBe(i)
      expect(Buffer.compare(reply.p, payloads[i]!)).toBe(0)
    })
    await expectServerHealthy()
  })

  it('bounds the handlers in flight per connection (backpressure on reading)', async () => {
    const limited = transport({ listen: '127.0.0.1:0', maxConcurrentPerConnection: 4 })
    let inFlight = 0
    let peak = 0
    limited.handle('work', async (body) => {
      inFlight++
      peak = Math.max(peak, inFlight)
      await sleep(2)
      inFlight--
      return body
    })
    await limited.start()
    try {
      const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => client.request(limited.address, 'work', i)))
      expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => i))
      expect(peak).toBe(4)
    } finally {
      await limited.stop()
    }
  })

  it('a request bigger than maxFrameBytes is rejected client-side with RangeError', async () => {
    const small = transport({ maxFrameBytes: 1024 })
    await small.start()
    try {
      await expect(small.request(server.address, 'echo', new Uint8Array(2048))).rejects.toBeInstanceOf(RangeError)
      expect(await small.request(server.address, 'echo', new Uint8Array(100))).toEqual(new Uint8Array(100))
    } finally {
      await small.stop()
    }
  })

  it('a peer with a larger frame limit that oversteps ours loses only its own connection', async () => {
    const strict = transport({ listen: '127.0.0.1:0', maxFrameBytes: 16 * 1024 })
    strict.handle('echo', (body) => Promise.resolve(body))
    await strict.start()
    try {
      await expect(client.request(strict.address, 'echo', new Uint8Array(64 * 1024))).rejects.toBeInstanceOf(NodeUnreachableError)
      expect(await client.request(strict.address, 'echo', 'small')).toBe('small')
      await expectServerHealthy()
    } finally {
      await strict.stop()
    }
  })

  it('a server answering with a forged response id breaks only that connection, as NodeUnreachableError', async () => {
    const lie = (socket: net.Socket): void => {
      socket.on('error', () => {})
      socket.once('data', () => {
        socket.write(framed(encodeFrame({ type: FrameType.RESPONSE, id: 2 ** 40, status: Status.OK, body: 'forged' })))
      })
    }
    const liar = encrypt
      ? tls.createServer({
          key: attackerIdentity.key, cert: attackerIdentity.cert, requestCert: true, rejectUnauthorized: false, ALPNProtocols: [LINK_PROTOCOL],
        }, lie)
      : net.createServer(lie)
    await new Promise<void>((resolve) => { liar.listen(0, '127.0.0.1', resolve) })
    try {
      const { port } = liar.address() as net.AddressInfo
      await expect(client.request(`127.0.0.1:${port}`, 'echo', 1)).rejects.toBeInstanceOf(NodeUnreachableError)
      await expectServerHealthy()
    } finally {
      liar.close()
    }
  })

  it('concurrent first requests share one connection; an idle one is closed and reopened on demand', async () => {
    const idle = transport({ idleTimeoutMs: 50 })
    await idle.start()
    try {
      const seen = await Promise.all(Array.from({ length: 20 }, () => idle.request(server.address, 'whoami', null)))
      expect(new Set(seen).size).toBe(1)
      await sleep(200)
      expect(await idle.request(server.address, 'whoami', null)).not.toBe(seen[0])
    } finally {
      await idle.stop()
    }
  })

  it('start() fails clearly when the port is taken', async () => {
    const second = transport({ listen: server.address })
    const err = await second.start().then(() => undefined, (e: unknown) => e)
    expect(isCfsError(err, 'ADDRESS_IN_USE')).toBe(true)
    await second.stop()
    expect(await client.request(server.address, 'echo', 'unharmed')).toBe('unharmed')
  })
})
