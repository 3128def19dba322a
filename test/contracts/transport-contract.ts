import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  BlockNotFoundError, NodeUnreachableError, RemoteError, ShuttingDownError, TimeoutError, UnknownMethodError, sleep,
} from '../../src/core/index.js'
import type { RequestContext, Transport } from '../../src/net/index.js'

/** Three started, connected transports and the means to kill and revive endpoints. */
export interface TransportFixture {
  a: Transport
  b: Transport
  c: Transport
  /** An address nothing listens on. */
  deadAddress: string
  /**
   * Starts a fresh transport answering at `address`, whose previous owner was stopped
   * (for TCP: listens on the same port again). The fixture's cleanup stops it.
   */
  listenAt: (address: string) => Promise<Transport>
  /** Stops every transport the fixture made. */
  cleanup: () => Promise<void>
}

/** Resolves when the signal aborts. */
async function aborted (signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return signal.reason
  return new Promise((resolve) => { signal.addEventListener('abort', () => { resolve(signal.reason) }, { once: true }) })
}

/**
 * The behaviour every Transport shares (the libp2p interface-compliance / abstract-level test
 * pattern): run unchanged against each implementation.
 */
export function transportContract (name: string, factory: () => Promise<TransportFixture>): void {
  describe(`${name} (transport contract)`, () => {
    let fx: TransportFixture
    let a: Transport
    let b: Transport

    beforeEach(async () => {
      fx = await factory()
      a = fx.a
      b = fx.b
      b.handle('echo', (body) => Promise.resolve(body))
    })

    afterEach(async () => {
      await fx.cleanup()
    })

    it('round-trips nested values, with byte strings arriving as Uint8Array', async () => {
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff)
      let seen: unknown
      b.handle('inspect', (body) => {
        seen = body
        return Promise.resolve({ got: body, extra: new Uint8Array([0, 255, 1]) })
      })
      const body = {
        key: bytes,
        nested: { n: 42, neg: -7, f: 1.5, big: 2 ** 40, s: 'héllo', list: [1, 'two', new Uint8Array([3])], t: true, nil: null },
        empty: new Uint8Array(0),
      }
      const reply = await a.request(b.address, 'inspect', body) as { got: typeof body, extra: Uint8Array }

      const server = seen as typeof body
      expect(server.key).toBeInstanceOf(Uint8Array)
      expect(Array.from(server.key)).toEqual(Array.from(bytes))
      expect(reply.got.key).toBeInstanceOf(Uint8Array)
      expect(Array.from(reply.got.key)).toEqual(Array.from(bytes))
      expect(reply.got.empty).toBeInstanceOf(Uint8Array)
      expect(reply.got.empty.length).toBe(0)
      expect(reply.got.nested.list[2]).toBeInstanceOf(Uint8Array)
      expect({ ...reply.got.nested, list: reply.got.nested.list.slice(0, 2) })
        .toEqual({ n: 42, neg: -7, f: 1.5, big: 2 ** 40, s: 'héllo', list: [1, 'two'], t: true, nil: null })
      expect(Array.from(reply.extra)).toEqual([0, 255, 1])
    })

    it('each end sees the identity the other proved; a request pinned to another key is refused unsent', async () => {
      expect(a.publicKey).toBeInstanceOf(Uint8Array)
      expect(a.publicKey?.length).toBe(32)
      const seen: Array<Uint8Array | undefined> = []
      b.handle('who', (_body, ctx: RequestContext) => {
        seen.push(ctx.peerKey)
        return Promise.resolve(null)
      })
      await a.request(b.address, 'who', null, { peerKey: b.publicKey })
      expect(seen).toEqual([a.publicKey])
      const other = new Uint8Array(32).fill(7)
      await expect(a.request(b.address, 'who', null, { peerKey: other })).rejects.toBeInstanceOf(NodeUnreachableError)
      expect(seen).toHaveLength(1) // the refused request never reached b
      await a.request(b.address, 'who', null) // unpinned: any key is taken
      expect(seen).toHaveLength(2)
    })

    it('a handler returning nothing answers null', async () => {
      b.handle('nothing', () => Promise.resolve(undefined))
      expect(await a.request(b.address, 'nothing', null)).toBeNull()
    })

    it('tells the handler who asked and gives it a live signal', async () => {
      let context: RequestContext | undefined
      b.handle('who', (_body, ctx) => { context = ctx; return Promise.resolve(null) })
      await a.request(b.address, 'who', null)
      expect(typeof context?.remoteAddress).toBe('string')
      expect(context?.remoteAddress.length).toBeGreaterThan(0)
      expect(context?.signal.aborted).toBe(false)
    })

    it('multiplexes 200 concurrent requests, each resolving to its own response', async () => {
      b.handle('delayed', async (body) => {
        const n = body as number
        await sleep((n * 37) % 23) // answers come back out of order
        return { n, square: n * n }
      })
      const replies = await Promise.all(Array.from({ length: 200 }, (_, n) => a.request(b.address, 'delayed', n)))
      replies.forEach((reply, n) => { expect(reply).toEqual({ n, square: n * n }) })
    })

    it('serves requests in both directions and from several peers', async () => {
      fx.a.handle('echo', (body) => Promise.resolve(body))
      const [x, y, z] = await Promise.all([
        a.request(b.address, 'echo', 'a->b'),
        fx.c.request(b.address, 'echo', 'c->b'),
        b.request(a.address, 'echo', 'b->a'),
      ])
      expect([x, y, z]).toEqual(['a->b', 'c->b', 'b->a'])
    })

    it('a handler throwing a CfsError arrives as the same error class and code', async () => {
      b.handle('missing', () => Promise.reject(new BlockNotFoundError('no such block')))
      const err = await a.request(b.address, 'missing', null).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(BlockNotFoundError)
      expect((err as BlockNotFoundError).code).toBe('BLOCK_NOT_FOUND')
      expect((err as Error).message).toMatch(/no such block/)
    })

    it('a handler throwing a plain Error arrives as RemoteError', async () => {
      b.handle('broken', () => Promise.reject(new Error('kaboom')))
      b.handle('broken-sync', () => { throw new TypeError('not even async') })
      for (const method of ['broken', 'broken-sync']) {
        const err = await a.request(b.address, method, null).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(RemoteError)
        expect((err as RemoteError).code).toBe('REMOTE_ERROR')
      }
      expect(await a.request(b.address, 'echo', 'unharmed')).toBe('unharmed')
    })

    it('an unknown method rejects with UnknownMethodError, and so does one unhandled', async () => {
      await expect(a.request(b.address, 'no-such-method', null)).rejects.toBeInstanceOf(UnknownMethodError)
      b.handle('temporary', () => Promise.resolve(1))
      expect(await a.request(b.address, 'temporary', null)).toBe(1)
      b.unhandle('temporary')
      await expect(a.request(b.address, 'temporary', null)).rejects.toBeInstanceOf(UnknownMethodError)
      b.handle('temporary', () => Promise.resolve(2))
      expect(await a.request(b.address, 'temporary', null)).toBe(2)
    })

    it('registering a second handler for a method throws RangeError', () => {
      expect(() => { b.handle('echo', () => Promise.resolve(null)) }).toThrow(RangeError)
    })

    it('a handler slower than the per-call timeout rejects with TimeoutError; its late answer disturbs nothing', async () => {
      b.handle('slow', async (body, ctx) => {
        await sleep(body as number, { signal: ctx.signal }).catch(() => {})
        return body
      })
      const long = a.request(b.address, 'slow', 250, { timeoutMs: 5_000 })
      await expect(a.request(b.address, 'slow', 150, { timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError)
      // The late response to the timed-out call arrives while `long` is still waiting.
      expect(await long).toBe(250)
      expect(await a.request(b.address, 'echo', 'still fine')).toBe('still fine')
    })

    it('rejects with the abort reason, whether the signal aborted before or during the call', async () => {
      b.handle('stall', async (_body, ctx) => { await sleep(300, { signal: ctx.signal }).catch(() => {}); return null })
      const before = new AbortController()
      const reason1 = new Error('gave up early')
      before.abort(reason1)
      await expect(a.request(b.address, 'echo', 1, { signal: before.signal })).rejects.toBe(reason1)

      const during = new AbortController()
      const reason2 = new Error('gave up midway')
      const call = a.request(b.address, 'stall', null, { signal: during.signal })
      setTimeout(() => { during.abort(reason2) }, 20)
      await expect(call).rejects.toBe(reason2)
      expect(await a.request(b.address, 'echo', 'after abort')).toBe('after abort')
    })

    it('a request to an address nobody listens on rejects with NodeUnreachableError', async () => {
      await expect(a.request(fx.deadAddress, 'echo', 1)).rejects.toBeInstanceOf(NodeUnreachableError)
    })

    it('a request larger than the frame limit rejects with RangeError before sending', async () => {
      let calls = 0
      b.handle('count', () => { calls++; return Promise.resolve(null) })
      await expect(a.request(b.address, 'count', new Uint8Array(9 * 1024 * 1024))).rejects.toBeInstanceOf(RangeError)
      expect(calls).toBe(0)
    })

    it('a stopped peer is unreachable; a new endpoint at its address serves again', async () => {
      expect(await a.request(b.address, 'echo', 'before')).toBe('before')
      const address = b.address
      await b.stop()
      await expect(a.request(address, 'echo', 'while down')).rejects.toBeInstanceOf(NodeUnreachableError)
      await expect(a.request(address, 'echo', 'still down')).rejects.toBeInstanceOf(NodeUnreachableError)

      const revived = await fx.listenAt(address)
      expect(revived.address).toBe(address)
      revived.handle('echo', (body) => Promise.resolve({ revived: body }))
      expect(await a.request(address, 'echo', 'after')).toEqual({ revived: 'after' })
    })

    it('stopping the serving side aborts the signal its handlers see', async () => {
      let signal: AbortSignal | undefined
      let entered: () => void = () => {}
      const inHandler = new Promise<void>((resolve) => { entered = resolve })
      b.handle('wait', async (_body, ctx) => {
        signal = ctx.signal
        entered()
        await aborted(ctx.signal)
        return null
      })
      const call = a.request(b.address, 'wait', null).catch((e: unknown) => e)
      await inHandler
      await b.stop()
      expect(signal?.aborted).toBe(true)
      await call // settles one way or the other (answered or unreachable), never hangs
    })

    it('stop() is idempotent, rejects calls in flight and later calls with ShuttingDownError', async () => {
      b.handle('stall', async (_body, ctx) => { await sleep(2_000, { signal: ctx.signal }).catch(() => {}); return null })
      const inFlight = a.request(b.address, 'stall', null)
      await sleep(20)
      await Promise.all([a.stop(), a.stop()])
      await a.stop()
      await expect(inFlight).rejects.toBeInstanceOf(ShuttingDownError)
      await expect(a.request(b.address, 'echo', 1)).rejects.toBeInstanceOf(ShuttingDownError)
      // The other side is unaffected.
      expect(await fx.c.request(b.address, 'echo', 'c still works')).toBe('c still works')
    })
  })
}
