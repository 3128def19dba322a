import { createLogger, type ComponentLogger, type Metrics } from '../core/index.js'
import { FramePool, TcpTransport } from '../net/index.js'
import { RemoteRouter } from '../chord/index.js'
import { DEFAULT_DHASH_RPC_TIMEOUT_MS, DHashClient, DHashRpc, type DHashClientInit } from '../dhash/index.js'
import { linkTransportInit, type LinkInit } from './link.js'

export interface RingClientInit extends DHashClientInit {
  /** Ring members to start lookups at ("host:port"). */
  ring: readonly string[]
  /** Deadline of one RPC (Chord and DHash alike). @default DEFAULT_DHASH_RPC_TIMEOUT_MS (dhash-rpc.ts) */
  rpcTimeoutMs?: number
  /** How its links are made; a client's identity is a fresh one each run. @default TLS, a public ring */
  link?: LinkInit
}

/** A BlockService on a ring this process is not a member of, over TCP. */
export interface RingClient {
  readonly blocks: DHashClient
  close: () => Promise<void>
}

/** `metrics`: where the client's lookups, puts and gets are counted (a mount's /metrics); omitted: nowhere. */
export async function connectRing (init: RingClientInit, logger: ComponentLogger = createLogger('client'), metrics?: Metrics): Promise<RingClient> {
  const rpcTimeoutMs = init.rpcTimeoutMs ?? DEFAULT_DHASH_RPC_TIMEOUT_MS
  // Large block frames are read into buffers a reader gives back once done with the block
  // (recycle), instead of into new memory for each.
  const framePool = new FramePool({ metrics })
  const transport = new TcpTransport({ logger, framePool }, { rpcTimeoutMs, ...linkTransportInit(init.link) })
  await transport.start()
  const router = new RemoteRouter({ transport, logger, metrics }, { bootstrap: init.ring, rpcTimeoutMs })
  const rpc = new DHashRpc(transport, rpcTimeoutMs)
  const blocks = new DHashClient({ router, rpc, logger, metrics, framePool }, init)
  // Repairs still in flight are abandoned at close: a command's exit does not wait on a slow
  // holder, and maintenance repairs what a reader found missing. settled() waits for them.
  return { blocks, close: async () => { await blocks.stop(); await rpc.stop(); await transport.stop() } }
}
