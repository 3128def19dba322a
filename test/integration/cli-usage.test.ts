import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCfs as cfs } from '../helpers/daemon.js'

// The built CLI (npm run build) with no ring: what a newcomer types first. Commands that need
// blocks use an embedded node in a temp data directory.

let work: string
let version: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cfs-cli-usage-'))
  version = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
})

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

describe('cfs --version', () => {
  it.each([['--version'], ['-V']])('%s prints the version from package.json and exits 0', async (flag) => {
    const r = await cfs([flag])
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
  })

  it('after a command, --version is the command\'s: it takes a number (exit 2 on a bad one)', async () => {
    const r = await cfs(['get', '/a', join(work, 'x'), '--version', 'abc'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    const m = await cfs(['mount', join(work, 'mnt'), '--key', join(work, 'none.key'), '--version', '3'])
    expect(m.code).toBe(2) // BAD_REQUEST: --version goes with --pubkey
    expect(m.stdout).toBe('')
  })

  it('cfs cat --version N reads version N of a volume (and a put over a file replaces its bytes)', async () => {
    const key = join(work, 'owner.key')
    const data = ['--data', join(work, 'data')]
    expect((await cfs(['keygen', key])).code).toBe(0)
    const file = join(work, 'f.txt')
    await writeFile(file, 'first\n')
    const first = await cfs(['put', file, '/f.txt', '--key', key, ...data, '--json'])
    expect(first.code, first.stderr).toBe(0)
    const v1 = (JSON.parse(first.stdout) as { version: number }).version
    await writeFile(file, 'second\n')
    expect((await cfs(['put', file, '/f.txt', '--key', key, ...data])).code).toBe(0)
    expect((await cfs(['cat', '/f.txt', '--key', key, ...data])).stdout).toBe('second\n')
    const old = await cfs(['cat', '/f.txt', '--key', key, ...data, '--version', String(v1)])
    expect(old).toMatchObject({ code: 0, stdout: 'first\n' })
  })
})
