import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCfsError, toHex } from '../../../src/core/index.js'
import { Reader, Volume, msToNs } from '../../../src/fs/index.js'
import type { BlockService } from '../../../src/dhash/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { SimDHash } from '../../helpers/sim-dhash.js'
import { FsModel, ModelError, dumpModel, type Dump } from './fs-model.js'
import { dumpFs } from './helpers.js'

const FC = { seed: 11, numRuns: 80 } as const

const name = fc.constantFrom('a', 'b', 'c')
// Short paths mostly, so that operations meet what earlier ones made.
const path = fc.oneof(
  { arbitrary: fc.array(name, { minLength: 1, maxLength: 1 }), weight: 3 },
  { arbitrary: fc.array(name, { minLength: 2, maxLength: 2 }), weight: 3 },
  { arbitrary: fc.array(name, { minLength: 3, maxLength: 3 }), weight: 1 },
)
const op = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('mkdir' as const), path }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('create' as const), path, exclusive: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('write' as const), path, offset: fc.nat(300), bytes: fc.uint8Array({ maxLength: 200 }) }), weight: 4 },
  fc.record({ op: fc.constant('truncate' as const), path, size: fc.nat(400) }),
  fc.record({ op: fc.constant('unlink' as const), path }),
  fc.record({ op: fc.constant('rmdir' as const), path }),
  { arbitrary: fc.record({ op: fc.constant('rename' as const), path, to: path }), weight: 3 },
  fc.record({ op: fc.constant('symlink' as const), path, target: fc.constantFrom('x', '../b', '../c', '/a/b/c') }),
  fc.record({ op: fc.constant('chmod' as const), path, mode: fc.nat(0o7777) }),
  fc.record({ op: fc.constant('setTimes' as const), path, mtimeMs: fc.nat(1_000_000) }),
  fc.record({ op: fc.constant('publish' as const) }),
)
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

/** A start every run shares, so the random operations find things to work on. */
const SETUP: Op[] = [
  { op: 'mkdir', path: ['a'] }, { op: 'mkdir', path: ['b'] }, { op: 'mkdir', path: ['a', 'b'] },
  { op: 'create', path: ['c'], exclusive: true }, { op: 'create', path: ['a', 'a'], exclusive: true },
  { op: 'create', path: ['b', 'c'], exclusive: true }, { op: 'write', path: ['c'], offset: 3, bytes: Uint8Array.of(1, 2, 3) },
  { op: 'symlink', path: ['b', 'a'], target: '../c' },
]

async function apply (vol: Volume, o: Op): Promise<void> {
  const p = 'path' in o ? '/' + o.path.join('/') : '/'
  switch (o.op) {
    case 'mkdir': return vol.mkdir(p)
    case 'create': return vol.create(p, { exclusive: o.exclusive })
    case 'write': await vol.write(p, o.offset, o.bytes); return
    case 'truncate': return vol.truncate(p, o.size)
    case 'unlink': return vol.unlink(p)
    case 'rmdir': return vol.rmdir(p)
    case 'rename': return vol.rename(p, '/' + o.to.join('/'))
    case 'symlink': return vol.symlink(o.target, p)
    case 'chmod': return vol.chmod(p, o.mode)
    case 'setTimes': return vol.setTimes(p, { mtimeNs: msToNs(o.mtimeMs) })
    case 'publish': await vol.publishOnce(); return
  }
}

function applyModel (m: FsModel, o: Op, now: number): void {
  switch (o.op) {
    case 'mkdir': return m.mkdir(o.path, now)
    case 'create': return m.create(o.path, o.exclusive, now)
    case 'write': return m.write(o.path, o.offset, o.bytes, now)
    case 'truncate': return m.truncate(o.path, o.size, now)
    case 'unlink': return m.unlink(o.path, now)
    case 'rmdir': return m.rmdir(o.path, now)
    case 'rename': return m.rename(o.path, o.to, now)
    case 'symlink': return m.symlink(o.target, o.path, now)
    case 'chmod': return m.chmod(o.path, o.mode, now)
    case 'setTimes': return m.setTimes(o.path, o.mtimeMs, now)
    case 'publish': return undefined
  }
}

/** The first names an operation touches: every other top-level subtree must keep its key. */
function touched (o: Op): Set<string> {
  const out = new Set<string>()
  if ('path' in o) out.add(o.path[0]!)
  if (o.op === 'rename') out.add(o.to[0]!)
  return out
}

/**
 * Applies SETUP and `ops` to a volume over `blocks` and to the model: the same tree and the
 * same errors at every step, untouched subtrees keep their keys, and every version published
 * on the way reads back exactly, for a reader too.
 */
async function checkAgainstModel (blocks: BlockService, ops: Op[]): Promise<void> {
  let clock = 1_000
  const now = (): number => clock
  const owner = newOwner()
  const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier, now }, { publishIntervalMs: 0, blockSizeBytes: 64 })
  await vol.start()
  const model = new FsModel(clock)
  const versions: Array<{ seq: number, dump: Dump }> = []
  for (const [i, o] of [...SETUP, ...ops].entries()) {
    clock += 10
    const before = new Map<string, string>()
    for await (const e of vol.readdir('/')) before.set(e.name, toHex(e.key))
    let got: string = 'ok'
    let want: string = 'ok'
    try {
      await apply(vol, o)
    } catch (err) {
      if (!isCfsError(err)) throw err
      got = err.code
    }
    try {
      applyModel(model, o, clock)
    } catch (err) {
      if (!(err instanceof ModelError)) throw err
      want = err.code
    }
    expect(got, `step ${i}: ${JSON.stringify(o)}`).toBe(want)
    const skip = touched(o)
    for await (const e of vol.readdir('/')) {
      if (!skip.has(e.name) && before.has(e.name)) expect(toHex(e.key), `step ${i}: /${e.name} untouched`).toBe(before.get(e.name))
    }
    if (o.op === 'publish' && vol.stats.seq > (versions.at(-1)?.seq ?? 0)) versions.push({ seq: vol.stats.seq, dump: dumpModel(model.clone()) })
  }
  expect(await dumpFs(vol)).toEqual(dumpModel(model))
  // Every version published on the way still reads back exactly, for a reader too.
  await vol.sync()
  versions.push({ seq: vol.stats.seq, dump: dumpModel(model) })
  const reader = new Reader({ blocks, verifier: owner.verifier })
  for (const v of versions) {
    expect(await dumpFs(await reader.version(owner.signer.publicKey, v.seq)), `version ${v.seq}`).toEqual(v.dump)
  }
  await vol.stop()
}

describe('Volume against a reference model', () => {
  it('random operations give the same tree and the same errors; old versions read back; untouched subtrees keep their keys (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
      await checkAgainstModel(new MemoryBlockService({ now: () => 0 }), ops)
    }), FC)
  }, 120_000)

  it('the same, on DHash over a simulated 8-node ring (k = 3) instead of the memory service (property)', async () => {
    let seed = 300
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      const sim = await SimDHash.create({ nodes: 8, seed: seed++ }, { replicas: 3 })
      try {
        await checkAgainstModel(sim.randomLive().dhash.client, ops)
      } finally {
        await sim.destroy()
      }
    }), { seed: 12, numRuns: 12 })
  }, 120_000)
})
