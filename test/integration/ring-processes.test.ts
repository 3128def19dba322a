import { afterAll, describe, expect, it } from 'vitest'
import { hashKey, toHex } from '../../src/core/index.js'
import { queryLookup, queryStatus } from '../../src/node/index.js'
import { killDaemon, spawnDaemon, type Daemon } from '../helpers/daemon.js'

// Real `cfs node` processes on 127.0.0.1 talking TCP; failures by SIGKILL.
const daemons: Daemon[] = []
afterAll(async () => { await Promise.all(daemons.map(async (d) => { await killDaemon(d) })) })

const FAST = ['--stabilize-ms', '200']

async function successorsMatchReference (live: Daemon[]): Promise<string[]> {
  const ids = live.map((d) => d.id).sort()
  const bad: string[] = []
  for (const d of live) {
    const s = await queryStatus(d.address)
    const i = ids.indexOf(d.id)
    const want = ids[(i + 1) % ids.length]
    const wantPred = ids[(i - 1 + ids.length) % ids.length]
    const v = s.vnodes[0]
    if (v?.successors[0]?.id !== want || v?.predecessor?.id !== wantPred) bad.push(`${d.address}: succ=${v?.successors[0]?.id.slice(0, 8)} want ${want?.slice(0, 8)}`)
  }
  return bad
}

function referenceSuccessor (ids: string[], keyHex: string): string {
  const sorted = [...ids].sort()
  return sorted.find((id) => id >= keyHex) ?? (sorted[0] as string)
}

describe('a ring of 8 cfs node processes', () => {
  it('forms, survives kill -9 of two nodes, and every survivor agrees on lookups', async () => {
    daemons.push(await spawnDaemon(FAST))
    const first = daemons[0] as Daemon
    for (let i = 1; i < 8; i++) daemons.push(await spawnDaemon(['--join', first.address, ...FAST]))

    await expect.poll(async () => successorsMatchReference(daemons), { timeout: 20_000, interval: 250 }).toEqual([])

    const victims = [daemons[2] as Daemon, daemons[5] as Daemon]
    await Promise.all(victims.map(async (d) => { await killDaemon(d, 'SIGKILL') }))
    const survivors = daemons.filter((d) => !victims.includes(d))

    const started = Date.now()
    await expect.poll(async () => successorsMatchReference(survivors), { timeout: 20_000, interval: 250 }).toEqual([])
    console.log(`ring repaired ${Date.now() - started} ms after kill -9 of two of eight nodes`)

    const ids = survivors.map((d) => d.id)
    for (let k = 0; k < 20; k++) {
      const key = hashKey(`key-${k}`)
      const want = referenceSuccessor(ids, toHex(key))
      const answers = await Promise.all(survivors.map(async (d) => (await queryLookup(d.address, key)).successor.id))
      expect(answers, `key ${toHex(key)}`).toEqual(survivors.map(() => want))
    }
  })

  it('a node that gets SIGTERM leaves gracefully and exits 0', async () => {
    const d = await spawnDaemon(['--join', (daemons[0] as Daemon).address, ...FAST])
    daemons.push(d)
    const exited = new Promise<number | null>((resolve) => { d.process.once('exit', (code) => { resolve(code) }) })
    d.process.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(d.stderr).toContain('left the ring')
  })
})
