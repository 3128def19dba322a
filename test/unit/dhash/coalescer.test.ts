import { describe, expect, it } from 'vitest'
import { Coalescer } from '../../../src/dhash/coalescer.js'
import { isCfsError } from '../../../src/core/errors.js'

describe('Coalescer', () => {
  it('sends a lone call at once and batches calls made while batches are in flight', async () => {
    const batches: number[][] = []
    const release: Array<() => void> = []
    const c = new Coalescer<number, number>(async (_dest, items) => {
      batches.push(items)
      await new Promise<void>((resolve) => release.push(resolve))
      return items.map((i) => i * 10)
    }, { maxInflight: 1 })
    const first = c.submit('a', 1, 1)
    await Promise.resolve()
    const rest = [2, 3, 4].map(async (i) => c.submit('a', i, 1))
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(batches).toEqual([[1]])
    release.shift()?.()
    expect(await first).toBe(10)
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(batches).toEqual([[1], [2, 3, 4]])
    release.shift()?.()
    expect(await Promise.all(rest)).toEqual([20, 30, 40])
  })

  it('keeps destinations apart and respects item and byte caps', async () => {
    const batches: Array<[string, number[]]> = []
    const c = new Coalescer<number, number>(async (dest, items) => {
      batches.push([dest, items])
      return items
    }, { maxInflight: 1, maxItems: 2, maxBytes: 10 })
    const all = await Promise.all([c.submit('a', 1, 4), c.submit('b', 2, 4), c.submit('a', 3, 4), c.submit('a', 4, 4), c.submit('a', 5, 20)])
    expect(all).toEqual([1, 2, 3, 4, 5])
    expect(batches.filter(([d]) => d === 'a').map(([, i]) => i)).toEqual([[1, 3], [4], [5]])
    expect(batches.filter(([d]) => d === 'b').map(([, i]) => i)).toEqual([[2]])
  })

  it('fails only the items the answer fails, and every item when the batch fails', async () => {
    const c = new Coalescer<number, number>(async (_dest, items) => items.map((i) => (i % 2 === 0 ? new Error(`even ${i}`) : i)))
    const r = await Promise.allSettled([c.submit('a', 1, 1), c.submit('a', 2, 1)])
    expect(r[0]).toEqual({ status: 'fulfilled', value: 1 })
    expect((r[1] as PromiseRejectedResult).reason).toEqual(new Error('even 2'))
    const broken = new Coalescer<number, number>(async () => { throw new Error('down') })
    const both = await Promise.allSettled([broken.submit('a', 1, 1), broken.submit('a', 2, 1)])
    expect(both.map((s) => s.status)).toEqual(['rejected', 'rejected'])
  })

  describe('on stop()', () => {
    /** A coalescer whose batches stay on the wire until their signal aborts. */
    function held (): { c: Coalescer<number, number>, batches: number[][], signals: AbortSignal[] } {
      const batches: number[][] = []
      const signals: AbortSignal[] = []
      const c = new Coalescer<number, number>(async (_dest, items, options) => {
        batches.push(items)
        signals.push(options.signal as AbortSignal)
        await new Promise<void>((_resolve, reject) => {
          options.signal?.addEventListener('abort', () => { reject(options.signal?.reason as Error) }, { once: true })
        })
        return items
      }, { maxInflight: 1 })
      return { c, batches, signals }
    }

    it('fails queued items with SHUTTING_DOWN instead of sending them, and aborts the batch on the wire', async () => {
      const { c, batches, signals } = held()
      const first = c.submit('a', 1, 1)
      await new Promise((resolve) => setTimeout(resolve, 0)) // the lone call is on the wire
      const queued = [c.submit('a', 2, 1), c.submit('a', 3, 1), c.submit('b', 4, 1)]
      const outcomes = Promise.allSettled([first, ...queued])
      await c.stop()
      const settled = await outcomes
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected'])
      for (const s of settled) expect(isCfsError((s as PromiseRejectedResult).reason, 'SHUTTING_DOWN'), String((s as PromiseRejectedResult).reason)).toBe(true)
      expect(batches).toEqual([[1]]) // 2, 3 and 4 were never sent
      expect(signals[0]?.aborted).toBe(true)
    })

    it('resolves only once the batches on the wire have settled', async () => {
      let release: () => void = () => {}
      let ended = false
      const c = new Coalescer<number, number>(async (_dest, items) => {
        // Ignores its signal: stop() must still wait for it.
        await new Promise<void>((resolve) => { release = resolve })
        ended = true
        return items
      })
      const sent = c.submit('a', 1, 1)
      await new Promise((resolve) => setTimeout(resolve, 0))
      let stopped = false
      const stopping = c.stop().then(() => { stopped = true })
      await new Promise((resolve) => setTimeout(resolve, 0))
      expect(stopped).toBe(false)
      release()
      await stopping
      expect(ended).toBe(true)
      expect(await sent).toBe(1) // an answer that arrived is still delivered
    })

    it('refuses submissions until start(), and is idempotent', async () => {
      const c = new Coalescer<number, number>(async (_dest, items) => items)
      await c.stop()
      await c.stop()
      const err: unknown = await c.submit('a', 1, 1).catch((e: unknown) => e)
      expect(isCfsError(err, 'SHUTTING_DOWN'), String(err)).toBe(true)
      c.start()
      expect(await c.submit('a', 2, 1)).toBe(2)
    })
  })
})
