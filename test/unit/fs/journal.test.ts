import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NodeUnreachableError, hashKey, toHex, type Key } from '../../../src/core/index.js'
import type { BlockKind, PutOptions, PutResult } from '../../../src/dhash/index.js'
import { FileJournal, JOURNAL_FILE, Reader, Volume, replayJournal } from '../../../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { errorCode } from '../../helpers/thrown.js'

/*
 * The owner's journal: every change is on the local disk before it is reported done, so a
 * volume that could not reach the ring, and was then stopped without publishing (a mount
 * killed with -9), publishes every change when it starts again. Another writer's publication
 * over the journal's base sets the journal aside instead of overwriting either.
 */

/** A ring that can go away: every put fails while `down`. */
class Outage extends MemoryBlockService {
  down = false
  override async put (kind: BlockKind, key: Key, bytes: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    if (this.down) throw new NodeUnreachableError('the ring is away')
    return super.put(kind, key, bytes, options)
  }
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'cfs-journal-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('the journal file', () => {
  it('replays blocks, trees and published versions; the changes a version did not include stay pending', async () => {
    const j = new FileJournal({ dir, now: () => 1_000 })
    expect((await j.open()).tops).toEqual([])
    const a = enc('block a')
    const ka = hashKey(a)
    const t1 = hashKey('t1')
    const t2 = hashKey('t2')
    await j.rewrite(undefined, [], undefined)
    await j.append([[ka, a]], t1)
    await j.append([], t2)
    // Version 1 published t1; t2 was made during the publication and waits.
    await j.published({ seq: 1, recordKey: hashKey('r1'), top: t1 })
    await j.close()
    const r = replayJournal(await readFile(join(dir, JOURNAL_FILE)))
    expect(r.torn).toBe(false)
    expect(r.base?.seq).toBe(1)
    expect(r.tops.map((t) => toHex(t.top))).toEqual([toHex(t2)])
    expect(r.tops[0]?.timeMs).toBe(1_000)
    expect(dec(r.blocks.get(toHex(ka))?.[1] as Uint8Array)).toBe('block a')
  })

  it('stops at a record cut short or damaged, keeping everything before it', async () => {
    const j = new FileJournal({ dir })
    await j.open()
    await j.rewrite(undefined, [], undefined)
    const b = enc('x'.repeat(1000))
    await j.append([[hashKey(b), b]], hashKey('t1'))
    const whole = (await stat(join(dir, JOURNAL_FILE))).size
    await j.append([[hashKey(enc('y')), enc('y')]], hashKey('t2'))
    await j.close()
    const full = await readFile(join(dir, JOURNAL_FILE))

    await truncate(join(dir, JOURNAL_FILE), full.length - 3) // a crash in the middle of the second append
    let r = await new FileJournal({ dir }).open()
    expect(r.torn).toBe(true)
    expect(r.tops.map((t) => toHex(t.top))).toEqual([toHex(hashKey('t1'))])

    const damaged = Buffer.from(full)
    damaged[whole + 37] = (damaged[whole + 37] as number) ^ 0xff // a flipped byte in the second block's bytes
    await writeFile(join(dir, JOURNAL_FILE), damaged)
    r = await new FileJournal({ dir }).open()
    expect(r.torn).toBe(true)
    expect(r.tops).toHaveLength(1)
    expect(r.blocks.size).toBe(1)
  })

  it('refuses a file that is not a journal', async () => {
    await writeFile(join(dir, JOURNAL_FILE), 'something else')
    expect(await errorCode(new FileJournal({ dir }).open())).toBe('JOURNAL_FAILED')
  })
})

describe('a volume with a journal', () => {
  async function start (blocks: Outage, owner: ReturnType<typeof newOwner>): Promise<Volume> {
    const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier, journal: new FileJournal({ dir }) }, { publishIntervalMs: 0 })
    await vol.start()
    return vol
  }

  it('keeps every change made while the ring was away through a stop without publishing, and publishes them on the next start', async () => {
    const blocks = new Outage()
    const owner = newOwner()
    let vol = await start(blocks, owner)
    await vol.mkdir('/d')
    await vol.create('/d/kept')
    await vol.write('/d/kept', 0, enc('published before the outage'))
    await vol.sync()

    blocks.down = true
    const big = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17))
    await vol.create('/d/big')
    await vol.write('/d/big', 0, big)
    await vol.create('/d/gone')
    await vol.unlink('/d/gone')
    await vol.rename('/d/kept', '/d/renamed')
    await vol.write('/d/renamed', 0, enc('PUBLISHED'))
    expect(await errorCode(vol.sync())).toBe('NODE_UNREACHABLE')
    expect(vol.stats.waitingSinceMs).toBeGreaterThan(0)
    expect(vol.stats.journalBytes).toBeGreaterThan(big.length)
    await vol.stop() // as a kill would: nothing published

    // Started again with the ring still away: nothing can be read from the ring but the root,
    // which is all start needs; the changes wait and fail to publish again.
    blocks.down = false
    vol = await start(blocks, owner)
    expect(vol.stats.dirty).toBe(true)
    await vol.sync()
    expect(vol.stats.waitingSinceMs).toBeUndefined()
    await vol.stop()

    const latest = await new Reader({ blocks, verifier: owner.verifier }).latest(owner.signer.publicKey)
    expect(dec(await latest.read('/d/renamed', 0, 100))).toBe('PUBLISHED before the outage')
    expect(Buffer.compare(Buffer.from(await latest.read('/d/big', 0, big.length + 10)), Buffer.from(big))).toBe(0)
    expect(await errorCode(latest.stat('/d/gone'))).toBe('ENTRY_NOT_FOUND')
    expect(await errorCode(latest.stat('/d/kept'))).toBe('ENTRY_NOT_FOUND')
  })

  it('starts clean once everything was published, and the file shrinks back to what waits', async () => {
    const blocks = new Outage()
    const owner = newOwner()
    let vol = await start(blocks, owner)
    await vol.create('/f')
    await vol.write('/f', 0, new Uint8Array(2 * 1024 * 1024))
    await vol.sync()
    await vol.stop()
    vol = await start(blocks, owner)
    expect(vol.stats.dirty).toBe(false)
    expect(vol.stats.journalBytes).toBeLessThan(1024)
    await vol.stop()
  })

  it('sets the journal aside when another writer published over its base', async () => {
    const blocks = new Outage()
    const owner = newOwner()
    let vol = await start(blocks, owner)
    await vol.create('/mine')
    await vol.sync()
    blocks.down = true
    await vol.write('/mine', 0, enc('waiting'))
    await vol.stop()

    // Another process of the same owner (no journal) publishes version 2 meanwhile.
    blocks.down = false
    const other = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0 })
    await other.start()
    await other.create('/theirs')
    await other.sync()
    await other.stop()

    vol = await start(blocks, owner)
    expect(vol.stats.dirty).toBe(false)
    expect((await vol.stat('/theirs')).type).toBe('file')
    expect((await vol.stat('/mine')).size).toBe(0)
    const aside = (await readdir(dir)).filter((n) => n.startsWith(`${JOURNAL_FILE}.overtaken-by-2-`))
    expect(aside).toHaveLength(1)
    const kept = replayJournal(await readFile(join(dir, aside[0] as string)))
    expect(kept.tops.length).toBeGreaterThan(0)
    await vol.stop()
  })
})
