import { describe, expect, it } from 'vitest'
import { BusyError } from '../../../src/core/index.js'
import { Reader, Volume, type Snapshot } from '../../../src/fs/index.js'
import { LatestView } from '../../../src/fuse/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'

/*
 * Following a volume: what changed between two versions (diffTrees, the paths a reader's mount
 * drops from the kernel's caches), a reader told of a new version by the root's holders
 * (Reader.watch), and a LatestView that moves on it and says what changed.
 */

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

async function volume (): Promise<{ blocks: MemoryBlockService, owner: ReturnType<typeof newOwner>, vol: Volume, reader: Reader }> {
  const blocks = new MemoryBlockService()
  const owner = newOwner()
  const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0 })
  await vol.start()
  return { blocks, owner, vol, reader: new Reader({ blocks, verifier: owner.verifier }) }
}

/** Creates the file and writes it. */
async function put (vol: Volume, path: string, text: string): Promise<void> {
  await vol.create(path)
  await vol.write(path, 0, enc(text))
}

async function changed (reader: Reader, publicKey: Uint8Array, before: Snapshot): Promise<string[]> {
  return (await (await reader.latest(publicKey)).changesSince(before)).paths
}

describe('diffTrees: what changed between two versions', () => {
  it('names added, removed and rewritten entries and the directories above them, parents first, nothing else', async () => {
    const { owner, vol, reader } = await volume()
    const pk = owner.signer.publicKey
    await vol.mkdir('/a')
    await vol.mkdir('/a/b')
    await vol.mkdir('/quiet')
    for (let i = 0; i < 300; i++) await put(vol, `/quiet/f${i}`, `file ${i}`)
    await put(vol, '/a/b/f', 'one')
    await put(vol, '/a/g', 'g')
    await vol.sync()
    const v1 = await reader.latest(pk)
    expect((await v1.changesSince(v1)).paths).toEqual([])

    await vol.write('/a/b/f', 0, enc('two'))
    await vol.sync()
    expect(await changed(reader, pk, v1)).toEqual(['/', '/a', '/a/b', '/a/b/f'])

    const v2 = await reader.latest(pk)
    await vol.unlink('/a/g')
    await vol.write('/quiet/f150', 0, enc('changed'))
    await put(vol, '/new', 'n')
    await vol.sync()
    expect(await changed(reader, pk, v2)).toEqual(['/', '/a', '/a/g', '/new', '/quiet', '/quiet/f150'])
  })

  it('stops at the limit and says the list is incomplete', async () => {
    const { owner, vol, reader } = await volume()
    const pk = owner.signer.publicKey
    await vol.sync()
    const v1 = await reader.latest(pk)
    for (let i = 0; i < 20; i++) await put(vol, `/f${i}`, 'x')
    await vol.sync()
    const r = await (await reader.latest(pk)).changesSince(v1, { limit: 5 })
    expect(r).toEqual({ paths: ['/', '/f0', '/f1', '/f10', '/f11'], complete: false })
  })

  it('a hard-linked file changed through one name: its names in unchanged directories are not searched for', async () => {
    const { owner, vol, reader } = await volume()
    const pk = owner.signer.publicKey
    await put(vol, '/f', 'one')
    await vol.mkdir('/d')
    await vol.link('/f', '/d/h')
    await vol.sync()
    const v1 = await reader.latest(pk)
    await vol.write('/f', 0, enc('two'))
    await vol.sync()
    // Only the inode table (on the top directory's inode) changed, not a directory listing: the
    // diff reports the top and does not search every directory for the inode's names (the
    // kernel drops their attributes within its timeout). A listing that changed is searched.
    expect(await changed(reader, pk, v1)).toEqual(['/'])
    const v2 = await reader.latest(pk)
    await vol.write('/f', 0, enc('three'))
    await put(vol, '/d/other', 'o')
    await vol.sync()
    expect(await changed(reader, pk, v2)).toEqual(['/', '/d', '/d/h', '/d/other', '/f'])
  })
})

describe('Reader.watch and LatestView: told of new versions', () => {
  it('Reader.watch answers with the next version as soon as it is published, nothing when the wait ends', async () => {
    const { owner, vol, reader } = await volume()
    const pk = owner.signer.publicKey
    await vol.sync()
    const seq = (await reader.latest(pk)).version?.seq ?? 0
    expect(await reader.watch(pk, seq, { waitMs: 20 })).toBeUndefined()
    const next = reader.watch(pk, seq, { waitMs: 60_000 })
    await put(vol, '/f', 'new')
    await vol.sync()
    const snap = await next
    expect(snap?.version?.seq).toBe(seq + 1)
    expect(new TextDecoder().decode(await snap?.read('/f', 0, 10))).toBe('new')
  })

  it('a started LatestView moves on each publication without polling, and tells onMoved what changed', async () => {
    const { owner, vol, reader } = await volume()
    const pk = owner.signer.publicKey
    await put(vol, '/f', 'v0')
    await vol.sync()
    const moved: string[][] = []
    let tell: (() => void) | undefined
    const view = await LatestView.open({
      reader, publicKey: pk, onMoved: async (changes) => { moved.push(changes.paths); tell?.() },
    }, { pollIntervalMs: 0 })
    expect(view.watching).toBe(true)
    await view.start()
    try {
      for (let i = 1; i <= 5; i++) {
        const seen = new Promise<void>((resolve) => { tell = resolve })
        await vol.write('/f', 0, enc(`v${i}`))
        await vol.sync()
        await seen
        expect(new TextDecoder().decode(await view.read('/f', 0, 10))).toBe(`v${i}`)
      }
      expect(moved).toEqual(Array.from({ length: 5 }, () => ['/', '/f']))
    } finally {
      await view.stop()
    }
  })

  it('a LatestView whose watch is refused polls on, and says so once', async () => {
    const { owner, vol, blocks } = await volume()
    const pk = owner.signer.publicKey
    await vol.sync()
    const refusing = { get: blocks.get.bind(blocks), watchRoot: async () => { throw new BusyError('no room') } }
    const reader = new Reader({ blocks: refusing, verifier: owner.verifier })
    const lines: string[] = []
    const logger = { forComponent: () => Object.assign((f: string, ...a: unknown[]) => { lines.push([f, ...a].join(' ')) }, { error: () => {}, trace: () => {}, enabled: true }) }
    const view = await LatestView.open({ reader, publicKey: pk, logger }, { pollIntervalMs: 20, watchRetryMs: 10 })
    await view.start()
    try {
      await put(vol, '/f', 'x')
      await vol.sync()
      const want = (await reader.latest(pk)).version?.seq
      for (let i = 0; i < 200 && view.latestSeq() !== want; i++) await new Promise((resolve) => setTimeout(resolve, 10))
      expect(view.latestSeq()).toBe(want)
      expect(lines.filter((l) => l.includes('polling only')).length).toBe(1)
    } finally {
      await view.stop()
    }
  })
})
