import { homedir } from 'node:os'
import { join } from 'node:path'
import { StoreLockedError, createLogger, isCfsError, type ComponentLogger } from '../core/index.js'
import { DEFAULT_REPLICAS, type DHashClient, type DHashClientInit } from '../dhash/index.js'
import { CfsNode } from './create-node.js'
import type { LinkInit } from './link.js'
import type { ScrapeableMetrics } from './metrics.js'
import { connectRing } from './ring-client.js'

export interface BlockAccessInit {
  /** "host:port" of any member of an existing ring; omitted: an embedded local node. */
  ring?: string
  /**
   * The cfs data directory (`--data`): the embedded node keeps its blocks in `node/` under it,
   * readers their rollback memory beside. @default defaultDataDir()
   */
  data?: string
  /** Replicas asked for. @default DEFAULT_REPLICAS (replica-set.ts) */
  replicas?: number
  /** How the client of a `ring` reads: `cfs where` turns read repair and path caching off. @default DHashClient's */
  client?: Pick<DHashClientInit, 'readRepair' | 'cachePathNodes'>
  /** Without `ring`: where the embedded node listens (others may join it there). @default DEFAULT_EMBEDDED_LISTEN */
  listen?: string
  /** Without `ring`: the address others reach the embedded node at, when not `listen`. @default the listen address */
  advertise?: string
  /** Where the ring client, or the embedded node's every layer, is counted (a mount's /metrics). @default none */
  metrics?: ScrapeableMetrics
  /** How links to the ring are made (a private ring's secret). @default TLS, a public ring */
  link?: LinkInit
}

export interface BlockAccess {
  /** A BlockService, and what else the DHash client answers (`checkReplicas`). */
  readonly blocks: DHashClient
  /** What the blocks go through, for the user: "ring via HOST:PORT" or "embedded node at DIR". */
  readonly description: string
  /** The embedded node, if one was started (a mount may serve it to others). */
  readonly node: CfsNode | undefined
  close: () => Promise<void>
}

/** Where an embedded node listens unless told: loopback, a free port. */
export const DEFAULT_EMBEDDED_LISTEN = '127.0.0.1:0'

/** Where cfs keeps its data when not told: $CFS_DATA, else $XDG_DATA_HOME/cfs, else ~/.local/share/cfs. */
export function defaultDataDir (): string {
  return process.env.CFS_DATA ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'cfs')
}

/**
 * The embedded node's directory under a cfs data directory (`--data`, else the default): one
 * place, however a command or mount is started, so every command sees the same volume.
 */
export function embeddedNodeDir (data: string | undefined): string {
  return join(data ?? defaultDataDir(), 'node')
}

/**
 * Blocks for a command: through a ring it is told of, or through an embedded single-node ring
 * on 127.0.0.1 whose replicas live under the data directory. The embedded node holds one copy
 * (puts report it as degraded: 1 of k); it is a ring like any other, which other nodes can join.
 */
export async function openBlocks (init: BlockAccessInit, logger: ComponentLogger = createLogger('cli')): Promise<BlockAccess> {
  const replicas = init.replicas ?? DEFAULT_REPLICAS
  if (init.ring !== undefined) {
    const client = { ring: [init.ring], replicas, ...init.client, ...(init.link === undefined ? {} : { link: init.link }) }
    const ring = await connectRing(client, logger, init.metrics)
    return { blocks: ring.blocks, description: `ring via ${init.ring}`, node: undefined, close: ring.close }
  }
  const dataDir = embeddedNodeDir(init.data)
  const node = new CfsNode({ metrics: init.metrics }, {
    listen: init.listen ?? DEFAULT_EMBEDDED_LISTEN,
    dataDir,
    dhash: { replicas },
    ...(init.advertise === undefined ? {} : { advertise: init.advertise }),
    ...(init.link === undefined ? {} : { link: init.link }),
  })
  try {
    await node.start() // closes what it opened if it fails
  } catch (err) {
    if (isCfsError(err, 'STORE_LOCKED')) throw new StoreLockedError(`${err.message}; stop it, or pass --data DIR or --ring HOST:PORT`, { cause: err })
    throw err
  }
  return { blocks: node.dhash.client, description: `embedded node at ${dataDir} (listening on ${node.address})`, node, close: async () => { await node.stop() } }
}
