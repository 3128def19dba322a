import { afterEach, describe, expect, it } from 'vitest'
import { isCfsError, type Key } from '../../../src/core/index.js'
import { MemoryNetwork, type MemoryTransport } from '../../../src/net/index.js'
import { ChordNode, ChordRpcServer } from '../../../src/chord/index.js'
import { BlockKind, DHash, MemoryBlockCache, MemoryBlockStore, contentKey } from '../../../src/dhash/index.js'
import { DHashMethod } from '../../../src/dhash/messages.js'

// DHash.stop() on a node whose puts are batched for a primary that does not answer: puts
// still queued for a batch are failed with SHUTTING_DOWN and never sent, the batches on the
// wire are aborted (stop does not wait out the 60 s RPC deadline), and nothing is retried.

interface Host { transport: MemoryTransport, node: ChordNode }

const network = new MemoryNetwork({ seed: 7 })
const hosts: Host[] = []

async function host (address: string): Promise<Host> {
  const transport = network.createTransport(address, { rpcTimeoutMs: 60_000 })
  await transport.start()
  const node = new ChordNode({ transport, server: new ChordRpcServer(transport) }, {
    stabilizeIntervalMs: 0, fixFingersIntervalMs: 0, checkPredecessorIntervalMs: 0,
  })
  await node.start()
  const h = { transport, node }
  hosts.push(h)
  return h
}

afterEach(async () => {
  for (const h of hosts.splice(0)) {
    await h.node.stop()
    await h.transport.stop()
  }
})

async function until (done: () => boolean): Promise<void> {
  await expect.poll(done, { interval: 5, timeout: 10_000 }).toBe(true)
}

describe('DHash.stop', () => {
  it('fails puts queued for a batch with SHUTTING_DOWN instead of sending them, and aborts the batches in flight', async () => {
    const a = await host('10.0.0.1:4000')
    const b = await host('10.0.0.2:4000')
    await b.node.join(a.node.self)
    for (const n of [b.node, a.node, b.node]) await n.stabilizeOnce()
    // b is the primary of the keys below and never answers a put.
    const seen: unknown[] = []
    b.transport.handle(DHashMethod.PUT, async (body, ctx) => {
      seen.push(body)
      await new Promise((_resolve, reject) => { ctx.signal.addEventListener('abort', () => { reject(ctx.signal.reason as Error) }, { once: true }) })
    })
    const dhash = new DHash({ transport: a.transport, blocks: new MemoryBlockStore(), cache: new MemoryBlockCache(), vnodes: () => [a.node] },
      { replicas: 2, repairIntervalMs: 0 })
    await dhash.start()

    const blocks: Array<{ key: Key, bytes: Uint8Array }> = []
    for (let i = 0; blocks.length < 6; i++) {
      const bytes = new TextEncoder().encode(`block ${i}`)
      const key = contentKey(bytes)
      if (b.node.isResponsible(key)) blocks.push({ key, bytes })
    }
    const puts: Array<Promise<unknown>> = []
    const put = (i: number): void => {
      const blk = blocks[i] as { key: Key, bytes: Uint8Array }
      const p = dhash.client.put(BlockKind.CONTENT, blk.key, blk.bytes)
      p.catch(() => {}) // inspected below
      puts.push(p)
    }
    // Four batches on the wire (the coalescer's limit per destination), one put each ...
    for (let i = 0; i < 4; i++) {
      put(i)
      await until(() => seen.length === i + 1)
    }
    // ... and two more puts, which can only wait for a batch.
    put(4)
    put(5)
    await new Promise((resolve) => setTimeout(resolve, 0))

    await dhash.stop()
    const outcomes = await Promise.allSettled(puts)
    for (const [i, o] of outcomes.entries()) {
      expect(o.status, `put ${i}`).toBe('rejected')
      const reason: unknown = (o as PromiseRejectedResult).reason
      expect(isCfsError(reason, 'SHUTTING_DOWN'), `put ${i}: ${String(reason)}`).toBe(true)
    }
    expect(seen).toHaveLength(4) // the two queued puts were never sent, and nothing was retried
    await dhash.stop() // idempotent
  })
})
