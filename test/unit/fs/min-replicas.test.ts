import { describe, expect, it } from 'vitest'
import type { Key } from '../../../src/core/index.js'
import { BlockKind, type PutOptions, type PutResult } from '../../../src/dhash/index.js'
import { Reader, Volume } from '../../../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { errorCode } from '../../helpers/thrown.js'

/*
 * An honest fsync: a publication succeeds only when every block and the signed root reached
 * the minimum of holders (a majority of k by default). Short of it, sync fails with
 * TOO_FEW_REPLICAS (EIO at the mount) and the change waits; what did reach a holder is put
 * again, the root first, so the next publication is not refused for a sequence number some
 * holders missed.
 */

/** A block service whose puts reach `reached` of k = 3 holders (roots `rootReached`, if set). */
class PartialRing extends MemoryBlockService {
  reached = 3
  rootReached: number | undefined
  constructor () { super({ wanted: 3 }) }
  override async put (kind: BlockKind, key: Key, bytes: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const r = await super.put(kind, key, bytes, options)
    const replicas = kind === BlockKind.ROOT ? (this.rootReached ?? this.reached) : this.reached
    return { ...r, replicas, degraded: replicas < r.wanted }
  }
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

async function setup (minReplicas?: number): Promise<{ blocks: PartialRing, vol: Volume, reader: Reader, publicKey: Uint8Array }> {
  const blocks = new PartialRing()
  const owner = newOwner()
  const init = { publishIntervalMs: 0, ...(minReplicas === undefined ? {} : { minReplicas }) }
  const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, init)
  await vol.start()
  return { blocks, vol, reader: new Reader({ blocks, verifier: owner.verifier }), publicKey: owner.signer.publicKey }
}

describe('publication and the minimum of holders', () => {
  it('fails with 1 of 3 holders (majority by default), and succeeds once 2 are reached, putting the short root again first', async () => {
    const { blocks, vol, reader, publicKey } = await setup()
    await vol.create('/f')
    await vol.write('/f', 0, enc('one'))
    blocks.reached = 1
    expect(await errorCode(vol.sync())).toBe('TOO_FEW_REPLICAS')
    expect(vol.stats.uploads.failures).toBeGreaterThan(0) // the blocks stay buffered
    expect(vol.stats.dirty).toBe(true)

    blocks.reached = 2
    blocks.resetCounts()
    await vol.sync() // the blocks again, then the root
    expect(blocks.counts.contentPuts).toBeGreaterThan(0)
    const v1 = await reader.latest(publicKey)
    expect(new TextDecoder().decode(await v1.read('/f', 0, 10))).toBe('one')

    // A root that reached too few: sync fails, the sequence number is used; the next sync puts
    // that root again before publishing anything newer (its expectSeq would be refused otherwise).
    await vol.write('/f', 0, enc('two'))
    blocks.rootReached = 1
    expect(await errorCode(vol.sync())).toBe('TOO_FEW_REPLICAS')
    blocks.rootReached = undefined
    blocks.reached = 3
    blocks.resetCounts()
    await vol.sync()
    expect(blocks.counts.rootPuts).toBe(1) // the short root again; nothing newer was written since
    await vol.write('/f', 0, enc('three'))
    blocks.resetCounts()
    await vol.sync()
    expect(blocks.counts.rootPuts).toBe(1)
    const latest = await reader.latest(publicKey)
    expect(new TextDecoder().decode(await latest.read('/f', 0, 10))).toBe('three')
    expect(latest.version?.seq).toBe(3)
  })

  it('a root short of the minimum, then more changes: the next publication puts the old root, then the new one', async () => {
    const { blocks, vol, reader, publicKey } = await setup()
    await vol.mkdir('/a')
    blocks.rootReached = 1
    expect(await errorCode(vol.sync())).toBe('TOO_FEW_REPLICAS')
    await vol.mkdir('/b')
    blocks.rootReached = undefined
    blocks.resetCounts()
    await vol.sync()
    expect(blocks.counts.rootPuts).toBe(2)
    expect((await reader.latest(publicKey)).version?.seq).toBe(2)
  })

  it('a minimum of 1 (the embedded node, a ring of one) accepts a single holder', async () => {
    const { blocks, vol } = await setup(1)
    blocks.reached = 1
    await vol.mkdir('/a')
    await vol.sync()
    expect(vol.stats.degradedRoots).toBe(1)
  })
})
