import { createHash, randomBytes } from 'node:crypto'
import { open, readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { forceUnmount, fuseUnavailable, ok, scratch, sh, spawnMount, type MountProcess, type Scratch } from './helpers.js'

const unavailable = await fuseUnavailable()

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

// Skipped only where FUSE cannot run at all (no /dev/fuse, no fusermount3, or dist/ not built):
// fuseUnavailable() says which, and the reason is in the suite's name. CI has all three
// (scripts/install-deps.sh installs fuse), so there it always runs.
describe.skipIf(unavailable !== undefined)(`cfs mount: kill -9 mid-copy${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let s: Scratch
  let mnt: string
  let m: MountProcess | undefined

  beforeAll(async () => {
    s = await scratch()
    mnt = await s.dir('mnt')
  })

  afterAll(async () => {
    await m?.stop()
    await forceUnmount(mnt)
    await s?.remove()
  })

  /**
   * A long copy in 4 KiB writes, files written and fsync'd one after another beside it, then
   * files only closed and a directory made, younger than the publish interval; then kill -9
   * mid-copy and a new mount on the same data. Returns what the new mount shows.
   */
  async function crashMidCopy (extra: string[]): Promise<{ synced: Map<string, string>, closed: Map<string, string>, big: Buffer }> {
    // No publish timer to speak of: only fsync publishes.
    const args = ['--key', s.keyFile, '--publish-ms', '600000', '--no-auto-unmount', ...extra]
    m = await spawnMount(s, mnt, args)
    await ok(`mkdir -p ${mnt}/synced && echo base > ${mnt}/synced/base`)
    await ok(`head -c ${32 * 1024 * 1024} /dev/urandom > ${s.root}/big.bin`)
    const big = await readFile(join(s.root, 'big.bin'))

    const copy = sh(`dd if=${s.root}/big.bin of=${mnt}/big.bin bs=4k status=none`, { timeoutMs: 120_000 })
    const synced = new Map<string, string>()
    let stop = false
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const data = randomBytes(1 + Math.floor(Math.random() * 300_000))
        const name = `f${i}`
        const fh = await open(join(mnt, 'synced', name), 'w')
        try {
          await fh.write(data)
          await fh.sync()
          synced.set(name, sha(data)) // acknowledged: must survive
        } finally {
          await fh.close().catch(() => {})
        }
      }
    })().catch((err: unknown) => err)
    await expect.poll(() => synced.size, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(15)
    // Every fsync publishes the whole tree: stop them before the changes that are only closed.
    stop = true
    expect(await writer).toBeUndefined()
    // Written and closed, never fsync'd, younger than the publish interval: close does not publish.
    const closed = new Map<string, string>()
    for (let i = 0; i < 5; i++) {
      const data = randomBytes(100_000)
      const fh = await open(join(mnt, 'synced', `closed${i}`), 'w')
      await fh.write(data)
      await fh.close()
      closed.set(`closed${i}`, sha(data))
    }
    await ok(`mkdir ${mnt}/never-published`)
    expect((await stat(join(mnt, 'big.bin'))).size).toBeLessThan(big.length) // still copying
    await m.kill()
    expect((await copy).code).not.toBe(0)
    expect((await sh(`ls ${mnt}`)).stderr).toMatch(/Transport endpoint is not connected/) // a dead mount

    m = await spawnMount(s, mnt, args) // clears the dead mount
    const names = new Set(await readdir(join(mnt, 'synced')))
    for (const [name, digest] of synced) {
      expect(names.has(name), `${name} was fsync'd`).toBe(true)
      expect(sha(await readFile(join(mnt, 'synced', name))), `${name} is complete`).toBe(digest)
    }
    expect(await readFile(join(mnt, 'synced', 'base'), 'utf8')).toBe('base\n')
    return { synced, closed, big }
  }

  /** The copy is a prefix of the source, if it is there at all: never another file's bytes or bytes not written. */
  async function expectPrefix (big: Buffer): Promise<number | undefined> {
    const copied = await readFile(join(mnt, 'big.bin')).catch(() => undefined)
    if (copied !== undefined) {
      expect(copied.length).toBeLessThan(big.length)
      expect(sha(copied)).toBe(sha(big.subarray(0, copied.length)))
    }
    return copied?.length
  }

  it('with the journal (the default): every fsync\'d and every closed file complete, the directory made, the copy a prefix', async () => {
    const { synced, closed, big } = await crashMidCopy([])
    for (const [name, digest] of closed) expect(sha(await readFile(join(mnt, 'synced', name))), `${name} was closed`).toBe(digest)
    expect((await readdir(mnt)).includes('never-published')).toBe(true)
    const copied = await expectPrefix(big)
    expect(copied).toBeGreaterThan(0)
    console.log(`kill -9 after ${synced.size} fsync'd files, with the journal: big.bin had ${copied ?? 'no'} bytes`)
    // The next test starts from an empty volume (the same key): removed, published at unmount.
    await ok(`rm -rf ${mnt}/synced ${mnt}/big.bin ${mnt}/never-published`)
    await m?.stop()
  })

  it('with --no-journal: the last published tree, every fsync\'d file complete, what was only closed not there', async () => {
    const { synced, big } = await crashMidCopy(['--no-journal'])
    const names = new Set(await readdir(join(mnt, 'synced')))
    expect((await readdir(mnt)).includes('never-published')).toBe(false)
    expect([...names].filter((n) => n.startsWith('closed'))).toEqual([])
    const copied = await expectPrefix(big)
    console.log(`kill -9 after ${synced.size} fsync'd files, without the journal: big.bin had ${copied ?? 'no'} bytes published`)
  })
})
