import { afterAll, beforeAll } from 'vitest'
import { killDaemon, spawnRing, type Daemon } from '../helpers/daemon.js'
import { forceUnmount, scratch, type MountProcess, type Scratch } from './helpers.js'

/** A ring of `cfs node` processes for a FUSE suite, and what its tests start on it. */
export interface RingFixture {
  /** The nodes, the first of which the others joined. A test that restarts one puts the new one in its place: teardown kills what is here. */
  readonly nodes: Daemon[]
  /** Mounts the tests start: stopped at teardown. */
  readonly mounts: MountProcess[]
  /** Mount points made at setup, by name: unmounted at teardown whatever state they are in. */
  readonly dirs: Record<string, string>
  /** Run first at teardown (a test that stopped nodes with SIGSTOP lets them go on). */
  readonly beforeTeardown: Array<() => void>
  /** The suite's scratch directory, owner key and environment (helpers.ts). */
  readonly scratch: Scratch
}

/**
 * Sets up, before the suite, `nodes` (default 3) `cfs node` processes started with `args`,
 * the others joining the first, and waits for the ring to settle; tears everything down after
 * it: mounts stopped, mount points unmounted, nodes killed by PID, the scratch removed.
 */
export function ringFixture (args: readonly string[], options: { nodes?: number, dirs?: readonly string[] } = {}): RingFixture {
  const nodes: Daemon[] = []
  const mounts: MountProcess[] = []
  const dirs: Record<string, string> = {}
  const beforeTeardown: Array<() => void> = []
  let s: Scratch | undefined
  beforeAll(async () => {
    s = await scratch()
    for (const name of options.dirs ?? ['rw', 'ro']) dirs[name] = await s.dir(name)
    nodes.push(...await spawnRing(options.nodes ?? 3, args))
  }, 90_000)
  afterAll(async () => {
    for (const f of beforeTeardown) f()
    for (const m of mounts) await m.stop()
    for (const d of Object.values(dirs)) await forceUnmount(d)
    for (const n of nodes) await killDaemon(n)
    await s?.remove()
  })
  return {
    nodes,
    mounts,
    dirs,
    beforeTeardown,
    get scratch (): Scratch {
      if (s === undefined) throw new TypeError('the ring fixture is set up before the suite runs')
      return s
    },
  }
}
