import { enableLogs, toHex } from '../core/index.js'
import { CfsNode, type CfsNodeInit } from './create-node.js'

/**
 * Runs a node in the foreground: prints exactly one `ready <host:port> <id-hex>` line on stdout
 * once it serves the ring (logs go to stderr), and leaves the ring gracefully on SIGTERM/SIGINT.
 */
export async function runDaemon (init: CfsNodeInit): Promise<void> {
  if (process.env.DEBUG === undefined) enableLogs('cfs:*,-cfs:*:trace')
  const node = new CfsNode({}, init)
  await node.start()
  let leaving = false
  const leave = (signal: string): void => {
    if (leaving) return
    leaving = true
    process.stderr.write(`${signal}: leaving the ring\n`)
    const force = setTimeout(() => { process.exit(1) }, 10_000)
    force.unref()
    node.leave().then(() => { process.exit(0) }, (err: unknown) => {
      process.stderr.write(`leave failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  // Handlers first, then `ready`: a SIGTERM sent as soon as `ready` is read must find them (with
  // no listener the signal's default action kills the process before it can leave).
  process.on('SIGTERM', () => { leave('SIGTERM') })
  process.on('SIGINT', () => { leave('SIGINT') })
  process.stdout.write(`ready ${node.address} ${toHex(node.vnodes[0]?.self.id ?? new Uint8Array())}\n`)
  if (node.httpAddress !== undefined) process.stderr.write(`http status on http://${node.httpAddress}/status\n`)
}
