import { describe, expect, it } from 'vitest'
import { isCfsError, toHex, type Key } from '../../src/core/index.js'
import {
  BlockKind, MAX_BLOCK_BYTES, contentKey, encodeRoot, generateSecretKey, publicKeyOf, rootKey, type BlockService,
} from '../../src/dhash/index.js'
import { rejection } from '../helpers/thrown.js'

/**
 * What the file tree may rely on from any BlockService (block-service.ts), whatever is behind
 * it: verified blocks by key, roots that only move forward under conditional puts, leases
 * renewed by refresh. Run against the memory service the fs tests use and against DHash on a
 * simulated ring, so the fs tiers' stand-in cannot drift from the real block layer.
 */
export interface BlockServiceFixture {
  blocks: BlockService
  cleanup: () => Promise<void>
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
/** Bytes as hex: services may answer with a Buffer or a plain Uint8Array. */
const hex = (b: Uint8Array): string => toHex(b)

function content (s: string): { key: Key, bytes: Uint8Array } {
  const bytes = text(s)
  return { key: contentKey(bytes), bytes }
}

export function blockServiceContract (name: string, make: () => Promise<BlockServiceFixture>): void {
  describe(`BlockService contract: ${name}`, () => {
    const withService = async (test: (blocks: BlockService) => Promise<void>): Promise<void> => {
      const f = await make()
      try {
        await test(f.blocks)
      } finally {
        await f.cleanup()
      }
    }

    it('a content block put is got back byte for byte, and has() says so', async () => {
      await withService(async (blocks) => {
        const b = content('hello, blocks')
        const r = await blocks.put(BlockKind.CONTENT, b.key, b.bytes)
        expect(hex(r.key)).toBe(hex(b.key))
        expect(r.replicas).toBeGreaterThanOrEqual(1)
        expect(r.degraded).toBe(r.replicas < r.wanted)
        expect(hex(await blocks.get(BlockKind.CONTENT, b.key))).toBe(hex(b.bytes))
        expect(await blocks.has(b.key)).toBe(true)
        // Putting the same block again is harmless.
        await blocks.put(BlockKind.CONTENT, b.key, b.bytes)
        expect(hex(await blocks.get(BlockKind.CONTENT, b.key))).toBe(hex(b.bytes))
      })
    })

    it('a block nobody put is BLOCK_NOT_FOUND, and has() is false', async () => {
      await withService(async (blocks) => {
        const b = content('never stored')
        expect(isCfsError(await rejection(blocks.get(BlockKind.CONTENT, b.key)), 'BLOCK_NOT_FOUND')).toBe(true)
        expect(await blocks.has(b.key)).toBe(false)
      })
    })

    it('bytes that do not hash to the key are refused with BLOCK_INVALID, and nothing is stored', async () => {
      await withService(async (blocks) => {
        const b = content('the real bytes')
        const err = await rejection(blocks.put(BlockKind.CONTENT, b.key, text('other bytes')))
        expect(isCfsError(err, 'BLOCK_INVALID')).toBe(true)
        expect(await blocks.has(b.key)).toBe(false)
      })
    })

    it('a block over MAX_BLOCK_BYTES is refused with BLOCK_TOO_LARGE', async () => {
      await withService(async (blocks) => {
        const bytes = new Uint8Array(MAX_BLOCK_BYTES + 1).fill(7)
        expect(isCfsError(await rejection(blocks.put(BlockKind.CONTENT, contentKey(bytes), bytes)), 'BLOCK_TOO_LARGE')).toBe(true)
      })
    })

    it('roots move forward only: conditional puts, conflicts, stale and forged roots refused, the newest got', async () => {
      await withService(async (blocks) => {
        const sk = generateSecretKey()
        const key = rootKey(publicKeyOf(sk))
        const v1 = encodeRoot(sk, 1, text('v1'))
        const v2 = encodeRoot(sk, 2, text('v2'))
        await blocks.put(BlockKind.ROOT, key, v1, { expectSeq: 0 })
        expect(hex(await blocks.get(BlockKind.ROOT, key))).toBe(hex(v1))
        // A writer that has not seen v1 loses.
        expect(isCfsError(await rejection(blocks.put(BlockKind.ROOT, key, v2, { expectSeq: 0 })), 'ROOT_CONFLICT')).toBe(true)
        await blocks.put(BlockKind.ROOT, key, v2, { expectSeq: 1 })
        expect(hex(await blocks.get(BlockKind.ROOT, key))).toBe(hex(v2))
        // An older root, another sequence-2 root, a root signed by someone else: refused.
        expect(isCfsError(await rejection(blocks.put(BlockKind.ROOT, key, v1)), 'ROOT_STALE')).toBe(true)
        expect(isCfsError(await rejection(blocks.put(BlockKind.ROOT, key, encodeRoot(sk, 2, text('other')))), 'ROOT_CONFLICT')).toBe(true)
        const forged = encodeRoot(generateSecretKey(), 3, text('not yours'))
        expect(isCfsError(await rejection(blocks.put(BlockKind.ROOT, key, forged)), 'BLOCK_INVALID')).toBe(true)
        expect(hex(await blocks.get(BlockKind.ROOT, key))).toBe(hex(v2))
      })
    })

    it('refresh renews what is stored and reports what is not', async () => {
      await withService(async (blocks) => {
        const a = content('kept a')
        const b = content('kept b')
        const gone = content('never put')
        await blocks.put(BlockKind.CONTENT, a.key, a.bytes)
        await blocks.put(BlockKind.CONTENT, b.key, b.bytes)
        const r = await blocks.refresh([a.key, gone.key, b.key])
        expect(r.missing.map(hex)).toEqual([hex(gone.key)])
        expect(hex(await blocks.get(BlockKind.CONTENT, a.key))).toBe(hex(a.bytes))
      })
    })

    it('an aborted call rejects and leaves the service usable', async () => {
      await withService(async (blocks) => {
        const b = content('after an abort')
        const ctl = new AbortController()
        ctl.abort()
        const err = await rejection(blocks.put(BlockKind.CONTENT, b.key, b.bytes, { signal: ctl.signal }))
        expect(err).toBeInstanceOf(Error)
        await blocks.put(BlockKind.CONTENT, b.key, b.bytes)
        expect(hex(await blocks.get(BlockKind.CONTENT, b.key))).toBe(hex(b.bytes))
      })
    })
  })
}
