import { queryStatus, type LinkInit } from '../../src/node/index.js'

/**
 * Waits until every node's predecessor and first `depth` successors are its neighbours on the
 * ring of these nodes (sorted by vnode id), so a test or benchmark does not run on a ring still
 * forming. The default depth covers the replica set of k = 3: with only the first successor
 * settled, a put can find a primary that knows too few successors and report itself degraded.
 * `link`: how to reach the nodes (a private ring's secret).
 */
export async function waitForRing (nodes: ReadonlyArray<{ address: string }>, timeoutMs = 60_000, depth = 3, link?: LinkInit): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const statuses = await Promise.all(nodes.map(async (n) => queryStatus(n.address, link === undefined ? {} : { link }).catch(() => undefined)))
    const vnodes = statuses.flatMap((s) => s?.vnodes ?? [])
    const ids = vnodes.map((v) => v.id).sort()
    const ok = statuses.every((s) => s !== undefined) && vnodes.every((v) => {
      const i = ids.indexOf(v.id)
      const want = Array.from({ length: Math.min(depth, ids.length - 1) }, (_, j) => ids[(i + 1 + j) % ids.length])
      return want.every((id, j) => v.successors[j]?.id === id) && v.predecessor?.id === ids[(i - 1 + ids.length) % ids.length]
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error('the ring did not settle in time')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
