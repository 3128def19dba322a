import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killDaemon, runCfs, spawnDaemon, type CfsRun, type Daemon } from '../helpers/daemon.js'
import { waitForRing } from '../helpers/ring-settled.js'

// The file-tree CLI against a real 3-process ring (k = 3) over TCP on 127.0.0.1: every command
// is its own client process, as a user would run it.

const cfs = async (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CfsRun> => runCfs(args, { env, binary: true })

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

let nodes: Daemon[] = []
let work: string
let ring: string[]
let key: string
let rw: string[]

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cfs-cli-'))
  const args = ['--stabilize-ms', '100', '--repair-ms', '1000']
  nodes.push(await spawnDaemon(args))
  for (let i = 0; i < 2; i++) nodes.push(await spawnDaemon([...args, '--join', (nodes[0] as Daemon).address]))
  await waitForRing(nodes)
  ring = ['--ring', (nodes[1] as Daemon).address]
  key = join(work, 'owner.key')
  expect((await cfs(['keygen', key])).code).toBe(0)
  rw = [...ring, '--key', key, '--data', join(work, 'client')]
}, 60_000)

afterAll(async () => {
  for (const n of nodes) await killDaemon(n)
  nodes = []
  await rm(work, { recursive: true, force: true })
})

describe('cfs CLI with an embedded node', () => {
  it('--data DIR and CFS_DATA=DIR are one data directory: the same node, the same volume', async () => {
    const data = join(work, 'embedded')
    const k = join(work, 'embedded.key')
    expect((await cfs(['keygen', k])).code).toBe(0)
    expect((await cfs(['mkdir', '/by-flag', '--key', k, '--data', data])).code).toBe(0)
    const env = { ...process.env, CFS_DATA: data }
    expect((await cfs(['mkdir', '/by-env', '--key', k], env)).code).toBe(0)
    const listed = await cfs(['ls', '/', '--key', k, '--data', data])
    expect(listed.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['by-env', 'by-flag'])
    const log = await cfs(['log', '--key', k], env)
    expect(log.stdout.split('\n').filter((l) => /^\s*\d+\s/.test(l)).length).toBe(2) // one history, two versions
  })
})

describe('cfs CLI on a 3-process ring', () => {
  it('keygen makes a 0600 key file and never overwrites one', async () => {
    const again = await cfs(['keygen', key])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already exists/)
    const { stat } = await import('node:fs/promises')
    expect((await stat(key)).mode & 0o777).toBe(0o600)
  })

  it('put and get round-trip a tree and a 16 MiB file byte for byte', async () => {
    const src = join(work, 'src')
    await mkdir(join(src, 'a', 'b'), { recursive: true })
    const big = randomBytes(16 * 1024 * 1024)
    await writeFile(join(src, 'big.bin'), big)
    for (let i = 0; i < 50; i++) await writeFile(join(src, 'a', i % 2 === 0 ? 'b' : '', `f${i}.txt`), `file ${i}\n`.repeat(i + 1))
    const put = await cfs(['put', src, '/tree', ...rw, '--json'])
    expect(put.code, put.stderr).toBe(0)
    expect((JSON.parse(put.stdout) as { files: number }).files).toBe(51)
    const out = join(work, 'out')
    const get = await cfs(['get', '/tree', out, ...rw])
    expect(get.code, get.stderr).toBe(0)
    const diff = await new Promise<number>((resolve) => execFile('diff', ['-r', src, out], (err) => { resolve(err === null ? 0 : 1) }))
    expect(diff).toBe(0)
    expect(sha(await readFile(join(out, 'big.bin')))).toBe(sha(big))
  })

  it('ls, cat, stat, mkdir -p, mv, rm -r, and log behave as the names say', async () => {
    expect((await cfs(['ls', ...rw, '/'])).stdout.split('\n')).toContain('tree')
    expect((await cfs(['cat', ...rw, '/tree/a/f1.txt'])).stdout).toBe('file 1\nfile 1\n')
    expect(JSON.parse((await cfs(['stat', ...rw, '/tree/big.bin', '--json'])).stdout)).toMatchObject({ type: 'file', size: 16 * 1024 * 1024 })
    expect((await cfs(['mkdir', '-p', '/x/y/z', ...rw])).code).toBe(0)
    expect((await cfs(['mv', '/tree/a/f1.txt', '/x/y', ...rw])).code).toBe(0)
    expect((await cfs(['cat', ...rw, '/x/y/f1.txt'])).stdout).toBe('file 1\nfile 1\n')
    expect((await cfs(['rm', '-r', '/x', ...rw])).code).toBe(0)
    const missing = await cfs(['cat', ...rw, '/x/y/f1.txt'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no such file/)
    const log = (await cfs(['log', ...rw, '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number })
    expect(log.length).toBeGreaterThanOrEqual(4)
    expect(log[0]?.seq).toBeGreaterThan(log[1]?.seq as number)
    // A past version still reads: before the mv, f1.txt was in /tree/a.
    const old = await cfs(['cat', ...rw, '--version', String(log[3]?.seq), '/tree/a/f1.txt'])
    expect(old.stdout).toBe('file 1\nfile 1\n')
  })

  it('anyone reads by public key; writes need the key', async () => {
    const pub = (await cfs(['keygen', join(work, 'other.key')])).stdout.trim()
    expect((await cfs(['ls', ...ring, '--pubkey', pub, '--data', join(work, 'reader')])).code).toBe(1) // never published
    const { readKeyFile } = await import('../../src/node/index.js')
    const ownerPub = Buffer.from((await readKeyFile(key)).publicKey).toString('hex')
    const ls = await cfs(['ls', ...ring, '--pubkey', ownerPub, '--data', join(work, 'reader'), '/tree/a'])
    expect(ls.code, ls.stderr).toBe(0)
    expect(ls.stdout).toContain('f3.txt')
  })

  it('backup uploads only what changed', async () => {
    const dir = join(work, 'backup-src')
    await mkdir(dir)
    for (let i = 0; i < 20; i++) await writeFile(join(dir, `f${i}`), randomBytes(10_000))
    const first = JSON.parse((await cfs(['backup', dir, '/bk', ...rw, '--json'])).stdout) as Record<string, number>
    expect(first).toMatchObject({ uploadedFiles: 20, unchangedFiles: 0 })
    await writeFile(join(dir, 'f3'), randomBytes(10_000))
    await rm(join(dir, 'f4'))
    const second = JSON.parse((await cfs(['backup', dir, '/bk', ...rw, '--json'])).stdout) as Record<string, number>
    expect(second).toMatchObject({ uploadedFiles: 1, unchangedFiles: 18, removed: 1 })
    expect(second.bytesUploaded).toBeLessThan(first.bytesUploaded as number / 5)
  })

  it('bad input gets a clear error and the right exit code', async () => {
    const usage = await cfs(['ls', ...ring])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/--pubkey/)
    const badName = await cfs(['mkdir', `/${'n'.repeat(300)}`, ...rw])
    expect(badName.code).toBe(2)
    const unreachable = await cfs(['ls', '--ring', '127.0.0.1:1', '--pubkey', 'ab'.repeat(32)])
    expect(unreachable.code).toBe(3)
  })
})
