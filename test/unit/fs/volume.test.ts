import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  NodeUnreachableError, ReadOnlyError, RootConflictError, isCfsError,
} from '../../../src/core/index.js'
import { BlockKind, type PutOptions } from '../../../src/dhash/index.js'
import { Reader, Volume, type VolumeInit } from '../../../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { dumpFs } from './helpers.js'
import { rejection } from '../../helpers/thrown.js'

type Owner = ReturnType<typeof newOwner>

function volume (blocks: MemoryBlockService, owner: Owner, init: VolumeInit = {}): Volume {
  return new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0, ...init })
}

async function started (blocks: MemoryBlockService, owner: Owner, init: VolumeInit = {}): Promise<Volume> {
  const v = volume(blocks, owner, init)
  await v.start()
  return v
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)

afterEach(() => { vi.useRealTimers() })

describe('Volume', () => {
  it('sees its own writes at once; readers see them once published', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner)
    await vol.mkdir('/docs')
    await vol.write('/docs/a.txt', 0, text('hello')).catch(() => {}) // missing file
    await vol.create('/docs/a.txt')
    await vol.write('/docs/a.txt', 0, text('hello'))
    expect(str(await vol.read('/docs/a.txt', 0, 100))).toBe('hello')
    expect(blocks.counts.rootPuts).toBe(0)
    const reader = new Reader({ blocks, verifier: owner.verifier })
    expect(isCfsError(await rejection(reader.latest(owner.signer.publicKey)), 'ENTRY_NOT_FOUND')).toBe(true)
    await vol.sync()
    const snap = await reader.latest(owner.signer.publicKey)
    expect(snap.version?.seq).toBe(1)
    expect(str(await snap.read('/docs/a.txt', 0, 100))).toBe('hello')
    expect(await vol.publishOnce()).toBeUndefined() // nothing new
    await vol.stop()
  })

  it('serializes concurrent changes: none is lost', async () => {
    const blocks = new MemoryBlockService()
    const vol = await started(blocks, newOwner())
    await Promise.all(Array.from({ length: 50 }, async (_, i) => vol.mkdir(`/d${i}`)))
    await Promise.all(Array.from({ length: 50 }, async (_, i) => vol.writeStream(`/d${i}/f`, [text(`file ${i}`)])))
    expect((await vol.stat('/')).size).toBe(50)
    for (const i of [0, 17, 49]) expect(str(await vol.read(`/d${i}/f`, 0, 20))).toBe(`file ${i}`)
  })

  it('batches many operations into one root per interval, and publishes at once on sync', async () => {
    vi.useFakeTimers()
    const blocks = new MemoryBlockService()
    const vol = await started(blocks, newOwner(), { publishIntervalMs: 1_000 })
    for (let i = 0; i < 20; i++) await vol.mkdir(`/d${i}`)
    expect(blocks.counts.rootPuts).toBe(0)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(blocks.counts.rootPuts).toBe(1)
    expect(vol.stats.seq).toBe(1)
    for (let i = 0; i < 5; i++) await vol.rmdir(`/d${i}`)
    await vol.sync()
    expect(blocks.counts.rootPuts).toBe(2)
    await vi.advanceTimersByTimeAsync(5_000)
    expect(blocks.counts.rootPuts).toBe(2) // nothing left to publish
    await vol.stop()
  })

  it('publishes intervalMs after a change, re-arms while changes are pending, and stop() waits for the publication in flight', async () => {
    vi.useFakeTimers()
    const blocks = new MemoryBlockService()
    const vol = await started(blocks, newOwner(), { publishIntervalMs: 1_000 })
    const put = blocks.put.bind(blocks)
    let rootPuts = 0
    let held: (() => void) | undefined
    blocks.put = async (kind, key, bytes, options?: PutOptions) => {
      if (kind === BlockKind.ROOT) {
        rootPuts++
        if (rootPuts === 1) throw new NodeUnreachableError('primary down') // the first try fails
        if (rootPuts === 3) await new Promise<void>((resolve) => { held = resolve }) // the third hangs
      }
      return put(kind, key, bytes, options)
    }
    await vol.mkdir('/a')
    await vi.advanceTimersByTimeAsync(999)
    expect(rootPuts).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(rootPuts).toBe(1) // failed: still dirty, so the timer is armed again
    expect(vol.stats.dirty).toBe(true)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(rootPuts).toBe(2)
    expect(vol.stats).toMatchObject({ seq: 1, dirty: false })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(rootPuts).toBe(2) // clean: no timer
    await vol.mkdir('/b')
    await vi.advanceTimersByTimeAsync(1_000)
    expect(rootPuts).toBe(3) // in flight, held
    let stopped = false
    const stopping = vol.stop().then(() => { stopped = true })
    await vi.advanceTimersByTimeAsync(0)
    expect(stopped).toBe(false)
    held?.()
    await stopping
    await vi.advanceTimersByTimeAsync(10_000)
    expect(rootPuts).toBe(3)
  })

  it('puts the signed root only after every block it reaches is stored', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner, { blockSizeBytes: 1024 })
    await vol.mkdir('/a')
    await vol.writeStream('/a/f', [new Uint8Array(10_000).fill(3)])
    const put = blocks.put.bind(blocks)
    let checked = false
    blocks.put = async (kind, key, bytes, options?: PutOptions) => {
      if (kind === BlockKind.ROOT) {
        // Read the whole tree the root is about to name, from stored blocks alone.
        const reader = new Reader({ blocks, verifier: owner.verifier })
        const r = await put(kind, key, bytes, options)
        const dump = await dumpFs(await reader.latest(owner.signer.publicKey))
        expect(dump['/a/f']?.size).toBe(10_000)
        checked = true
        return r
      }
      return put(kind, key, bytes, options)
    }
    await vol.sync()
    expect(checked).toBe(true)
  })

  it('a data block whose put fails is not lost: its parents stay buffered, and the next publish retries it', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner, { blockSizeBytes: 1024, uploadsInFlight: 4 })
    const data = Uint8Array.from({ length: 40_000 }, (_, i) => (i * 7) % 251)
    await vol.writeStream('/f', [data])
    const put = blocks.put.bind(blocks)
    let failOnce = true
    blocks.put = async (kind, key, bytes, options?: PutOptions) => {
      // The file's last, partial data block (full ones were uploaded during the write) fails,
      // as a put that timed out would, after a delay in which its parents could be acknowledged.
      if (failOnce && kind === BlockKind.CONTENT && Buffer.from(bytes).equals(Buffer.from(data.subarray(39_936)))) {
        failOnce = false
        await new Promise((resolve) => setTimeout(resolve, 20))
        throw new NodeUnreachableError('timed out')
      }
      return put(kind, key, bytes, options)
    }
    expect(await rejection(vol.sync())).toBeInstanceOf(NodeUnreachableError)
    await vol.sync()
    const reader = new Reader({ blocks, verifier: owner.verifier })
    const snap = await reader.latest(owner.signer.publicKey)
    expect(await snap.read('/f', 0, 40_000)).toEqual(data)
  })

  it('publishes a deep tree in one round of puts: every block is sent before any is acknowledged', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner, { uploadsInFlight: 64 })
    await vol.mkdir('/a')
    await vol.mkdir('/a/b')
    await vol.mkdir('/a/b/c')
    await vol.writeStream('/a/b/c/f', [new Uint8Array([1, 2, 3])])
    const put = blocks.put.bind(blocks)
    let acked = 0
    let sent = 0
    let sentAfterAck = 0
    blocks.put = async (kind, key, bytes, options?: PutOptions) => {
      if (kind === BlockKind.CONTENT) {
        sent++
        if (acked > 0) sentAfterAck++
        await new Promise((resolve) => setTimeout(resolve, 5))
        acked++
      }
      return put(kind, key, bytes, options)
    }
    await vol.sync()
    expect(sent).toBeGreaterThanOrEqual(9) // data, 4 inodes, 4 directories and the root record
    expect(sentAfterAck).toBe(0)
    const snap = await new Reader({ blocks, verifier: owner.verifier }).latest(owner.signer.publicKey)
    expect(await snap.read('/a/b/c/f', 0, 3)).toEqual(new Uint8Array([1, 2, 3]))
  })

  it('changes go on while a publication uploads; the next publication takes them', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner)
    await vol.mkdir('/before')
    const put = blocks.put.bind(blocks)
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let held = 0
    blocks.put = async (kind, key, bytes, options?: PutOptions) => {
      held++
      await gate
      return put(kind, key, bytes, options)
    }
    const first = vol.sync()
    await vi.waitFor(() => { expect(held).toBeGreaterThan(0) })
    // The publication is stuck on the network; changes do not wait for it.
    await vol.mkdir('/during')
    await vol.writeStream('/during/f', [text('written while publishing')])
    expect(str(await vol.read('/during/f', 0, 100))).toBe('written while publishing')
    release()
    await first
    const reader = new Reader({ blocks, verifier: owner.verifier })
    const v1 = await reader.latest(owner.signer.publicKey)
    expect(v1.version?.seq).toBe(1)
    expect((await v1.stat('/before')).type).toBe('dir')
    expect(isCfsError(await rejection(v1.stat('/during')), 'ENTRY_NOT_FOUND')).toBe(true)
    expect(vol.stats.dirty).toBe(true)
    await vol.sync()
    const v2 = await reader.latest(owner.signer.publicKey)
    expect(v2.version?.seq).toBe(2)
    expect(str(await v2.read('/during/f', 0, 100))).toBe('written while publishing')
  })

  it('concurrent syncs share publications (group commit): each returns once its changes are published', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner)
    const put = blocks.put.bind(blocks)
    blocks.put = async (kind, key, bytes, options?: PutOptions) => {
      await new Promise((resolve) => setTimeout(resolve, 2))
      return put(kind, key, bytes, options)
    }
    const reader = new Reader({ blocks, verifier: owner.verifier })
    await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      await vol.writeStream(`/f${i}`, [text(`file ${i}`)])
      await vol.sync()
      const latest = await reader.latest(owner.signer.publicKey)
      expect(str(await latest.read(`/f${i}`, 0, 100))).toBe(`file ${i}`)
    }))
    // One publication took the changes made before it began; the one queued behind it took
    // all the rest: 30 syncs, a handful of publications.
    expect(vol.stats.publishes).toBeLessThanOrEqual(3)
    expect(blocks.counts.rootPuts).toBe(vol.stats.publishes)
  })

  it('a streamed block waiting for an upload slot survives the publishes that run meanwhile', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    // One upload at a time, each slow, and a publish every few ms: later blocks of the stream
    // wait for a slot while publishes (and their prunes) run.
    const vol = await started(blocks, owner, { blockSizeBytes: 1024, uploadsInFlight: 2, publishIntervalMs: 1, streamCommitBlocks: 2 })
    const put = blocks.put.bind(blocks)
    blocks.put = async (kind, key, bytes, options?: PutOptions) => {
      if (kind === BlockKind.CONTENT && bytes.length === 1024) await new Promise((resolve) => setTimeout(resolve, 5))
      return put(kind, key, bytes, options)
    }
    const data = Uint8Array.from({ length: 64 * 1024 }, (_, i) => (i * 13 + (i >> 10)) % 253)
    await vol.writeStream('/f', [data])
    await vol.sync()
    const snap = await new Reader({ blocks, verifier: owner.verifier }).latest(owner.signer.publicKey)
    expect(await snap.read('/f', 0, data.length)).toEqual(data)
  })

  it('renews the leases of its blocks on a timer while started, and stops with the volume', async () => {
    const blocks = new MemoryBlockService()
    const refresh = vi.spyOn(blocks, 'refresh')
    const vol = await started(blocks, newOwner(), { leaseRefreshIntervalMs: 20 })
    await vol.create('/f')
    await vol.sync()
    await vi.waitFor(() => { expect(refresh).toHaveBeenCalled() }, { timeout: 2_000 })
    await vol.stop()
    const calls = refresh.mock.calls.length
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect(refresh.mock.calls.length).toBe(calls)
  })

  it('counts degraded puts and keeps unacknowledged blocks for the next try', async () => {
    const blocks = new MemoryBlockService({ wanted: 3, replicas: 2 })
    const vol = await started(blocks, newOwner())
    await vol.create('/f')
    await vol.write('/f', 0, text('data'))
    blocks.failNextPuts(1, new NodeUnreachableError('no route'))
    expect(await rejection(vol.sync())).toBeInstanceOf(NodeUnreachableError)
    expect(vol.stats.seq).toBe(0)
    expect(vol.stats.dirty).toBe(true)
    await vol.sync()
    expect(vol.stats.seq).toBe(1)
    expect(vol.stats.uploads.failures).toBe(1)
    expect(vol.stats.uploads.degraded).toBe(vol.stats.uploads.puts)
    expect(vol.stats.degradedRoots).toBe(1)
    expect(vol.stats.bufferedBlocks).toBe(0)
  })

  it('two writers with one key: the second publish gets RootConflictError and keeps its changes', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const a = await started(blocks, owner)
    await a.create('/from-a')
    await a.sync()
    const b = await started(blocks, owner) // starts at version 1
    await a.create('/a-again')
    await a.sync() // version 2
    await b.create('/from-b')
    await b.write('/from-b', 0, text('precious'))
    const err = await rejection(b.sync())
    expect(err).toBeInstanceOf(RootConflictError)
    expect(b.stats.conflict).toBe(err)
    expect(await rejection(b.sync())).toBe(err) // sticky: never a silent overwrite later
    expect(str(await b.read('/from-b', 0, 100))).toBe('precious') // nothing lost
    const reader = new Reader({ blocks, verifier: owner.verifier })
    const latest = await reader.latest(owner.signer.publicKey)
    expect(latest.version?.seq).toBe(2)
    expect(isCfsError(await rejection(latest.stat('/from-b')), 'ENTRY_NOT_FOUND')).toBe(true)
    expect((await latest.stat('/a-again')).type).toBe('file')
    // Two fresh volumes on an empty key: the first publish wins.
    const other = newOwner()
    const c = await started(blocks, other)
    const d = await started(blocks, other)
    await c.mkdir('/c')
    await d.mkdir('/d')
    await c.sync()
    expect(await rejection(d.sync())).toBeInstanceOf(RootConflictError)
  })

  it('streams a large write: blocks upload as they fill, memory stays bounded', { timeout: 30_000 }, async () => {
    const blocks = new MemoryBlockService({ latencyMs: 1 })
    const bs = 64 * 1024
    const vol = await started(blocks, newOwner(), { blockSizeBytes: bs, writeBufferBytes: 1024 * 1024, uploadsInFlight: 4, streamCommitBlocks: 16 })
    let most = 0
    async function * source (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 16 * 1024; i++) { // 16 MiB in 1 KiB pieces
        most = Math.max(most, vol.stats.bufferedBytes)
        yield new Uint8Array(1024).fill((i >> 6) % 251 + 1)
      }
    }
    expect(await vol.writeStream('/big', source())).toBe(16 * 1024 * 1024)
    expect(blocks.counts.contentPuts).toBeGreaterThanOrEqual(256 - 4) // all data went out before any sync, but the last few in flight
    expect(most).toBeLessThanOrEqual(8 * bs) // in-flight uploads plus the staged block and metadata
    await vol.sync()
    const st = await vol.stat('/big')
    expect(st.size).toBe(16 * 1024 * 1024)
    const got = await vol.read('/big', 64 * 1024 * 100 + 5, 3)
    expect([...got]).toEqual([101, 101, 101]) // piece 6400: (6400 >> 6) % 251 + 1
  })

  it('stores whole blocks of a write that hands its bytes over as they are, and copies those of one that does not', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const given = new Uint8Array(8192 + 100).map((_, i) => (i * 13) % 251 + 1)
    const lent = Uint8Array.from(given)
    const put = blocks.put.bind(blocks)
    const memoryOf: ArrayBufferLike[] = []
    blocks.put = async (kind, key, bytes, options) => {
      if (kind === BlockKind.CONTENT) memoryOf.push(bytes.buffer)
      return put(kind, key, bytes, options)
    }
    const vol = await started(blocks, owner, { blockSizeBytes: 4096 })
    await vol.create('/given')
    await vol.create('/lent')
    const handle = await vol.open('/given', { write: true })
    await handle.write(0, given, { transfer: true })
    await vol.write('/lent', 0, lent)
    lent.fill(0) // the caller reuses its buffer: the file keeps what was written
    await vol.sync()
    // Every block (the tail too: it covers its block to the file's end) went out from the caller's memory.
    expect(memoryOf.filter((m) => m === given.buffer)).toHaveLength(3)
    expect(memoryOf.filter((m) => m === lent.buffer)).toHaveLength(0)
    const published = await new Reader({ blocks, verifier: owner.verifier }).latest(owner.signer.publicKey)
    expect(await published.read('/given', 0, given.length)).toEqual(given)
    expect(await published.read('/lent', 0, given.length)).toEqual(given)
    await handle.close()
    await vol.stop()
  })

  it('keeps the write buffer bounded when small writes supersede each other', async () => {
    const blocks = new MemoryBlockService()
    const vol = await started(blocks, newOwner(), { blockSizeBytes: 4096, writeBufferBytes: 64 * 1024 })
    await vol.create('/log')
    let most = 0
    for (let i = 0; i < 800; i++) {
      await vol.write('/log', i * 100, new Uint8Array(100).fill((i % 250) + 1))
      most = Math.max(most, vol.stats.bufferedBytes)
    }
    expect(most).toBeLessThan(200 * 1024) // 800 writes made ~4 MB of blocks, most superseded at once
    await vol.sync()
    const bytes = await vol.read('/log', 0, 80_000)
    expect(bytes[79_999]).toBe((799 % 250) + 1)
    expect(bytes[150]).toBe(2)
  }, 30_000)

  it('an early upload that fails does not fail the write; the publish retries it', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner, { blockSizeBytes: 4096, writeBufferBytes: 16 * 1024 })
    await vol.create('/f')
    blocks.failNextPuts(3, new NodeUnreachableError('partition'))
    for (let i = 0; i < 20; i++) await vol.write('/f', i * 4096, new Uint8Array(4096).fill(i + 1))
    await vol.sync()
    expect(vol.stats.uploads.failures).toBeGreaterThan(0)
    expect((await vol.read('/f', 19 * 4096, 1))[0]).toBe(20)
    const reader = new Reader({ blocks, verifier: owner.verifier })
    expect((await (await reader.latest(vol.publicKey)).stat('/f')).size).toBe(20 * 4096)
  })

  it('an unlinked open file keeps its unpublished blocks through buffer pruning', async () => {
    const blocks = new MemoryBlockService()
    const vol = await started(blocks, newOwner(), { blockSizeBytes: 1024, writeBufferBytes: 8 * 1024 })
    const h = await vol.open('/tmp', { write: true, create: true })
    await h.write(0, new Uint8Array(3000).fill(5))
    await vol.unlink('/tmp')
    for (let i = 0; i < 30; i++) await vol.writeStream(`/other${i}`, [new Uint8Array(1500).fill(i + 1)]) // prunes
    await vol.sync()
    expect([...(await h.read(2990, 20))]).toEqual(new Array(10).fill(5))
    await h.close()
  })

  it('handles follow renames, outlive unlink, and honour read-only opens', async () => {
    const blocks = new MemoryBlockService()
    const vol = await started(blocks, newOwner())
    await vol.mkdir('/d')
    const h = await vol.open('/d/f', { write: true, create: true, exclusive: true })
    await h.write(0, text('one'))
    await vol.rename('/d', '/e')
    expect(h.path).toBe('/e/f')
    await h.write(3, text('two'))
    expect(str(await vol.read('/e/f', 0, 10))).toBe('onetwo')
    expect(isCfsError(await rejection(vol.open('/e/f', { create: true, exclusive: true })), 'ENTRY_EXISTS')).toBe(true)
    const ro = await vol.open('/e/f')
    expect(await rejection(ro.write(0, text('x')))).toBeInstanceOf(ReadOnlyError)
    await vol.unlink('/e/f')
    expect(str(await h.read(0, 10))).toBe('onetwo') // an open file outlives its name
    await h.write(0, text('ONE'))
    expect(str(await h.read(0, 10))).toBe('ONEtwo')
    expect(isCfsError(await rejection(vol.stat('/e/f')), 'ENTRY_NOT_FOUND')).toBe(true)
    await h.close()
    const t = await vol.open('/e/g', { write: true, create: true })
    await t.write(0, text('abcdef'))
    const t2 = await vol.open('/e/g', { write: true, truncate: true })
    expect((await t2.stat()).size).toBe(0)
    expect(await rejection(vol.open('/e'))).toHaveProperty('code', 'IS_A_DIRECTORY')
  })

  it('a created file stays in its handle while it has no data block; its stat sees it there, and anything else adds it to the tree first', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner)
    await vol.mkdir('/d')
    const before = await vol.stat('/')
    const h = await vol.open('/d/f', { write: true, create: true, exclusive: true, mode: 0o600 })
    // Staged: stat and getxattr of its path answer from it; the tree has not changed yet.
    const staged = await vol.stat('/d/f')
    expect(staged).toMatchObject({ type: 'file', size: 0, mode: 0o600, nlink: 1 })
    expect(await vol.getxattr('/d/f', 'security.capability')).toBeUndefined()
    expect((await h.stat()).ino).toBe(staged.ino)
    expect(await vol.publishOnce()).toBeDefined() // the mkdir; publishing adds a staged file first
    expect((await vol.stat('/d')).size).toBe(1)
    await h.write(0, text('hello'))
    expect((await vol.stat('/d/f')).ino).toBe(staged.ino)
    expect(str(await vol.read('/d/f', 0, 10))).toBe('hello')
    await h.close()

    // Made as cp -a makes a file: its bytes, times, mode, owner and xattrs change the staged
    // inode, and the tree changes once, at the flush (close(2)).
    await vol.sync()
    const g = await vol.open('/d/g', { write: true, create: true })
    const gIno = (await g.stat()).ino
    await g.write(0, text('one'))
    await vol.setTimes('/d/g', { mtimeNs: 5_000_000_000n })
    await vol.chmod('/d/g', 0o640)
    await vol.chown('/d/g', 7, 8)
    await vol.setxattr('/d/g', 'user.k', text('v'))
    expect(isCfsError(await rejection(vol.removexattr('/d/g', 'user.none')), 'ATTRIBUTE_NOT_FOUND')).toBe(true)
    expect(vol.stats.dirty).toBe(false)
    expect(await vol.stat('/d/g')).toMatchObject({ ino: gIno, size: 3, mode: 0o640, uid: 7, gid: 8, mtimeNs: 5_000_000_000n })
    await g.flush()
    expect(vol.stats.dirty).toBe(true)
    expect(str(await vol.read('/d/g', 0, 10))).toBe('one')
    expect(await vol.getxattr('/d/g', 'user.k')).toEqual(text('v'))
    await g.close()
    // Its first data block adds it at once (that block must be reachable from the tree).
    await vol.sync()
    const big = await vol.open('/d/big', { write: true, create: true })
    await big.write(0, new Uint8Array(5000).fill(1))
    expect(vol.stats.dirty).toBe(true)
    await big.close()

    // Any other change adds it first, with the number it was given: a mkdir after it gets the next.
    const k = await vol.open('/d/k', { write: true, create: true })
    const kIno = (await k.stat()).ino
    expect(kIno).toBe(gIno + 2)
    await vol.mkdir('/d/sub')
    expect((await vol.stat('/d/sub')).ino).toBe(kIno + 1)
    expect((await vol.stat('/d/k')).size).toBe(0)
    await k.write(0, text('k')) // written in the tree now
    expect(str(await vol.read('/d/k', 0, 10))).toBe('k')

    // A rename of its directory first adds it; the handle follows.
    const m = await vol.open('/d/m', { write: true, create: true })
    await vol.rename('/d', '/e')
    await m.write(0, text('moved'))
    expect(str(await vol.read('/e/m', 0, 10))).toBe('moved')

    // Created and closed unwritten (touch): it is there, empty. A listing sees a staged file.
    const t = await vol.open('/e/t', { write: true, create: true })
    const names: string[] = []
    for await (const e of vol.readdir('/e')) names.push(e.name)
    expect(names).toContain('t')
    await t.close()
    const u = await vol.open('/e/u', { write: true, create: true })
    const stagedKey = (await vol.stat('/e/u')).key // computed when asked: the key it will have
    await u.close()
    expect((await vol.stat('/e/u')).size).toBe(0)
    expect((await vol.stat('/e/u')).key).toEqual(stagedKey)

    // O_EXCL of a staged name fails; without it, the staged file is opened.
    const x = await vol.open('/e/x', { write: true, create: true })
    expect(isCfsError(await rejection(vol.open('/e/x', { write: true, create: true, exclusive: true })), 'ENTRY_EXISTS')).toBe(true)
    expect(isCfsError(await rejection(vol.open('/e', { write: true, create: true, exclusive: true })), 'ENTRY_EXISTS')).toBe(true) // a directory: EEXIST, as open(2)
    expect(isCfsError(await rejection(vol.open('/e', { write: true, create: true })), 'IS_A_DIRECTORY')).toBe(true)
    const x2 = await vol.open('/e/x', { write: true, create: true })
    await x2.write(0, text('2'))
    await x.write(1, text('1'))
    expect(str(await vol.read('/e/x', 0, 10))).toBe('21')

    await vol.sync()
    const snap = await new Reader({ blocks, verifier: owner.verifier }).latest(owner.signer.publicKey)
    expect(str(await snap.read('/e/f', 0, 10))).toBe('hello')
    expect((await snap.stat('/e/t')).size).toBe(0)
    expect((await snap.stat('/')).nlink).toBe(before.nlink) // /d became /e
    await vol.stop()
  })

  it('a staged file held open is published on the timer, as any change', async () => {
    vi.useFakeTimers()
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner, { publishIntervalMs: 1_000 })
    await vol.sync() // the empty tree, version 1
    const h = await vol.open('/kept-open', { write: true, create: true })
    await h.write(0, text('small'))
    expect(vol.stats.dirty).toBe(false) // staged: not in the tree yet
    await vi.advanceTimersByTimeAsync(1_000)
    expect(vol.stats).toMatchObject({ seq: 2, dirty: false })
    const snap = await new Reader({ blocks, verifier: owner.verifier }).latest(owner.signer.publicKey)
    expect(str(await snap.read('/kept-open', 0, 10))).toBe('small')
    await h.close()
    await vol.stop()
  })

  it('a reader\'s open file keeps reading its version while the owner rewrites it', async () => {
    const blocks = new MemoryBlockService()
    const owner = newOwner()
    const vol = await started(blocks, owner, { blockSizeBytes: 1024 })
    await vol.writeStream('/f', [new Uint8Array(5000).fill(1)])
    await vol.sync()
    const reader = new Reader({ blocks, verifier: owner.verifier })
    const handle = await (await reader.latest(owner.signer.publicKey)).open('/f')
    await vol.writeStream('/f', [new Uint8Array(5000).fill(2)])
    await vol.sync()
    expect([...(await handle.read(4000, 3))]).toEqual([1, 1, 1])
    expect([...(await (await reader.latest(owner.signer.publicKey)).read('/f', 4000, 3))]).toEqual([2, 2, 2])
    expect(await rejection(handle.write(0, text('x')))).toBeInstanceOf(ReadOnlyError)
    expect(await rejection((await reader.latest(owner.signer.publicKey)).mkdir())).toBeInstanceOf(ReadOnlyError)
  })

  it('refresh extends the leases of the current and recent versions and restores lost blocks it still holds', async () => {
    let now = 0
    const blocks = new MemoryBlockService({ now: () => now, leaseMs: 1_000 })
    const owner = newOwner()
    const vol = await started(blocks, owner, { keepVersions: 1 })
    await vol.mkdir('/a')
    await vol.sync() // 1
    await vol.writeStream('/a/f', [text('first')])
    await vol.sync() // 2
    await vol.writeStream('/a/f', [text('second')])
    await vol.sync() // 3
    const fKey = (await vol.stat('/a/f')).key
    now = 900
    const report = await vol.refresh()
    expect(report.lost).toEqual([])
    now = 1_800 // only what refresh touched is still alive
    const reader = new Reader({ blocks, verifier: owner.verifier })
    const seqs: number[] = []
    for await (const v of reader.versions(owner.signer.publicKey)) seqs.push(v.seq)
    expect(seqs).toEqual([3, 2]) // version 1's record expired
    expect(str(await (await reader.version(owner.signer.publicKey, 2)).read('/a/f', 0, 10))).toBe('first')
    // A block no node has any more, which the volume still holds, is put back.
    blocks.forget(fKey)
    const again = await vol.refresh()
    expect(again.restored).toBe(1)
    expect(again.lost).toEqual([])
    expect(await blocks.has(fKey)).toBe(true)
    // One it no longer holds is reported.
    const stranger = await started(blocks, owner)
    blocks.forget((await stranger.stat('/a')).key)
    const lost = await stranger.refresh()
    expect(lost.lost.length).toBeGreaterThan(0)
  })
})
