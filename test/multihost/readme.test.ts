import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { multihostUnavailable, Network, type Host, type HostProcess } from './hosts.js'

const unavailable = await multihostUnavailable()
const README = new URL('../../README.md', import.meta.url)

/** One line of README's multi-host section and the host it is run on. */
interface Step { host: string, line: string }

/**
 * The shell lines of README's "Across machines" section, in order, each with the host its
 * block says (`# on 10.77.0.N` starts a host's part; other comments and blank lines are
 * skipped, trailing comments are bash's business).
 */
function readmeSteps (readme: string): Step[] {
  const start = readme.indexOf('\n## Across machines\n')
  if (start < 0) throw new Error('README.md has no "## Across machines" section')
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  const steps: Step[] = []
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let host: string | undefined
    for (const raw of (block[1] ?? '').split('\n')) {
      const line = raw.trim()
      const on = /^# on (\d+\.\d+\.\d+\.\d+)\b/.exec(line)
      if (on !== null) { host = on[1]; continue }
      if (line === '' || line.startsWith('#')) continue
      if (host === undefined) throw new Error(`a README block does not say which host it runs on: ${line}`)
      steps.push({ host, line })
    }
  }
  return steps
}

/*
 * README's multi-host section, followed as written: four hosts at the addresses it names
 * (network namespaces, test/multihost/hosts.ts), each with its own HOME and `cfs` on PATH,
 * `scp` copying from the other host's HOME. Each line runs on its host in order; a `cfs node`
 * line runs on in the background, as in a terminal of its own, once it prints `ready`. The
 * owner's files are those of ~/Documents, made here; the friend's `sha256sum` must print
 * their sums.
 */
// Skipped only where network namespaces or FUSE cannot work (not root, no ip or nsenter, no
// /dev/fuse or fusermount3, dist/ not built): multihostUnavailable() says which. CI has them.
describe.skipIf(unavailable !== undefined)(`README's multi-host section, run as written${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let net: Network | undefined
  const nodes: HostProcess[] = []

  beforeAll(async () => {
    net = await Network.create({ hosts: 4 })
  }, 60_000)
  afterAll(async () => {
    await net?.teardown()
  }, 60_000)

  it('three nodes form a ring, the owner mounts and copies, a friend reads the same bytes by public key', async () => {
    const n = net!
    const steps = readmeSteps(await readFile(README, 'utf8'))
    expect(steps.map((s) => s.host)).toEqual(expect.arrayContaining(['10.77.0.1', '10.77.0.2', '10.77.0.3', '10.77.0.4']))

    // The owner's documents: what the friend must read back.
    const owner = n.host('10.77.0.1')
    const docs = join(owner.home, 'Documents')
    await mkdir(docs)
    const files: Record<string, Buffer> = {
      'notes.txt': Buffer.from('from the owner, read by a friend\n'),
      'photo.jpg': randomBytes(3 * 1024 * 1024 + 17),
      'report.pdf': randomBytes(200_000),
    }
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(docs, name), bytes)

    let friendOutput = ''
    for (const step of steps) {
      const host: Host = n.host(step.host)
      const line = step.line
      if (/^cfs node\b/.test(line)) {
        nodes.push(await n.start(host, line, { ready: /^ready /, timeoutMs: 60_000 }))
        continue
      }
      const r = await n.run(host, line, { timeoutMs: 120_000 })
      // A mount started with --daemon logs to the host's cfs data directory: shown on failure.
      const logs = r.code === 0 ? '' : (await n.run(host, 'tail -n 40 ~/.local/share/cfs/logs/*.log 2>/dev/null')).stdout
      expect(r.code, `on ${step.host}: ${line}\n${r.stdout}\n${r.stderr}\n${logs}`).toBe(0)
      if (line.startsWith('sha256sum ')) friendOutput = r.stdout
    }

    // The friend's sums are the owner's files' sums, one line per file.
    const friend = n.host('10.77.0.4')
    const expected = Object.entries(files).map(([name, bytes]) => `${createHash('sha256').update(bytes).digest('hex')}  ${join(friend.home, 'theirs', 'Documents', name)}`)
    expect(friendOutput.trim().split('\n').sort()).toEqual(expected.sort())
    expect(nodes.every((p) => p.alive())).toBe(true)
  }, 240_000)
})
