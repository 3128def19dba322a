import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import tls from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { makeLinkIdentity } from '../../../src/net/index.js'
import { readAcceptedInPlace } from '../../../src/net/socket-reads.js'

/** What an accepted socket handed over, and how. */
interface Seen {
  bytes: Buffer[]
  /** Reads that landed in the buffer target() had given for them. */
  inPlace: number
  /** Bytes given as the socket's own Buffers (read before the switch). */
  pushed: number
}

/** Reads an accepted socket in place into 8 KiB buffers, recording what arrives. */
function readAll (socket: net.Socket): { seen: Seen, engaged: boolean } {
  const seen: Seen = { bytes: [], inPlace: 0, pushed: 0 }
  let lent: Uint8Array | undefined
  const engaged = readAcceptedInPlace(socket, {
    push: (chunk) => { seen.bytes.push(Buffer.from(chunk)); seen.pushed += chunk.length },
    target: () => (lent = new Uint8Array(8192)),
    received: (into, n) => {
      if (into === lent) seen.inPlace++
      seen.bytes.push(Buffer.from(into.subarray(0, n)))
    },
  })
  if (engaged) socket.resume()
  return { seen, engaged }
}

const cleanups: Array<() => void> = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

/** A server whose first accepted socket is handed to `accepted`, and a client connected to it. */
async function pair (kind: 'tcp' | 'tls', accepted: (socket: net.Socket) => void): Promise<net.Socket> {
  if (kind === 'tcp') {
    const server = net.createServer(accepted)
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
    cleanups.push(() => { server.close() })
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1')
    cleanups.push(() => { client.destroy() })
    await once(client, 'connect')
    return client
  }
  const identity = await makeLinkIdentity(new Uint8Array(randomBytes(32)))
  const server = tls.createServer({ key: identity.key, cert: identity.cert, minVersion: 'TLSv1.3' }, accepted)
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  cleanups.push(() => { server.close() })
  const client = tls.connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' })
  cleanups.push(() => { client.destroy() })
  await once(client, 'secureConnect')
  return client
}

describe('readAcceptedInPlace: an accepted socket reads into the memory it is given', () => {
  for (const kind of ['tcp', 'tls'] as const) {
    it(`${kind}: bytes sent before and after the switch arrive whole and in order, reads land in the lent buffers, no 'data' events`, async () => {
      const payload = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17))
      let server: { socket: net.Socket, seen: Seen, engaged: boolean } | undefined
      let arrived: () => void = () => {}
      const done = new Promise<void>((resolve) => { arrived = resolve })
      const client = await pair(kind, (socket) => {
        // Switched only once the first bytes wait in the stream's buffer.
        socket.once('readable', () => {
          const r = readAll(socket)
          server = { socket, ...r }
          const check = (): void => {
            if (r.seen.bytes.reduce((a, b) => a + b.length, 0) >= payload.length) arrived()
            else setImmediate(check)
          }
          check()
        })
      })
      client.write(payload.subarray(0, 1000))
      await new Promise((resolve) => setTimeout(resolve, 50))
      for (let at = 1000; at < payload.length; at += 256 * 1024) client.write(payload.subarray(at, at + 256 * 1024))
      await done
      const s = server as { socket: net.Socket, seen: Seen, engaged: boolean }
      expect(s.engaged).toBe(true)
      expect(Buffer.concat(s.seen.bytes).equals(payload)).toBe(true)
      expect(s.seen.pushed).toBeGreaterThan(0) // the bytes read before the switch
      expect(s.seen.inPlace).toBeGreaterThan(payload.length / 8192 / 2)
      expect(s.socket.listenerCount('data')).toBe(0)
    })

    it(`${kind}: pause() stops the reads and resume() restarts them; the end of the stream still closes the socket`, async () => {
      let server: { socket: net.Socket, seen: Seen } | undefined
      const accepted = new Promise<void>((resolve) => {
        void pair(kind, (socket) => {
          const r = readAll(socket)
          server = { socket, seen: r.seen }
          socket.pause()
          resolve()
        }).then((client) => { clients.push(client) })
      })
      const clients: net.Socket[] = []
      await accepted
      while (clients.length === 0) await new Promise((resolve) => setImmediate(resolve))
      const client = clients[0] as net.Socket
      const s = server as { socket: net.Socket, seen: Seen }
      client.write(new Uint8Array(100_000).fill(7))
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(s.seen.bytes.length).toBe(0)
      s.socket.resume()
      while (s.seen.bytes.reduce((a, b) => a + b.length, 0) < 100_000) await new Promise((resolve) => setImmediate(resolve))
      const closed = once(s.socket, 'close')
      s.socket.on('end', () => { s.socket.end() })
      client.end()
      await closed
    })
  }
})

describe('readAcceptedInPlace: where the parts are missing', () => {
  it('a socket without a native handle (never connected, or closed already) is left as it was: the caller reads \'data\' events, and nothing throws', () => {
    const socket = new net.Socket()
    cleanups.push(() => { socket.destroy() })
    const calls: string[] = []
    const engaged = readAcceptedInPlace(socket, {
      push: () => { calls.push('push') },
      target: () => { calls.push('target'); return new Uint8Array(8) },
      received: () => { calls.push('received') },
    })
    expect(engaged).toBe(false)
    expect(calls).toEqual([])
    expect(Object.getOwnPropertySymbols(socket).map((s) => (socket as unknown as Record<symbol, unknown>)[s]).filter((v) => typeof v === 'function')).toEqual([])
  })
})

describe('readAcceptedInPlace: a connection closed before it is served', () => {
  it('returns false and throws nothing', async () => {
    let result: boolean | undefined
    const served = new Promise<void>((resolve) => {
      void pair('tcp', (socket) => {
        socket.destroy()
        result = readAcceptedInPlace(socket, { push: () => {}, target: () => new Uint8Array(8), received: () => {} })
        resolve()
      })
    })
    await served
    expect(result).toBe(false)
  })
})
