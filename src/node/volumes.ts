import { createLogger, type AbortOptions } from '../core/index.js'
import { decodeRoot, encodeRoot, rootKey, signMessage } from '../dhash/index.js'
import { JsonFileSeenRoots, Reader, Volume, type FileSystem, type RootVerifier, type Snapshot, type VersionInfo, type VolumeInit } from '../fs/index.js'
import { holdJournal } from './journal-dir.js'
import { defaultDataDir, openBlocks, type BlockAccess, type BlockAccessInit } from './block-access.js'
import type { OwnerKey } from './key-file.js'

export const rootVerifier: RootVerifier = { rootKey, decodeRoot }

/** Holders a publication must reach through an embedded node (a ring of one), unless told otherwise. */
export const EMBEDDED_MIN_REPLICAS = 1

export interface OpenVolumeInit extends BlockAccessInit {
  key: OwnerKey
  volume?: VolumeInit
  /**
   * Keep unpublished changes in the volume's journal under the data directory (journal-dir.ts),
   * so they survive an outage of the ring and a restart or kill of this process. @default false
   */
  journal?: boolean
}

/** The owner's read-write volume over a ring or the embedded node. */
export interface OwnedVolume {
  readonly volume: Volume
  readonly access: BlockAccess
  /** Publishes what is pending, then stops the volume and the block access. */
  close: (options?: AbortOptions) => Promise<void>
}

export async function openVolume (init: OpenVolumeInit): Promise<OwnedVolume> {
  const logger = createLogger('fs')
  const { secretKey, publicKey } = init.key
  const held = init.journal === true ? await holdJournal(init.data, publicKey) : undefined
  const access = await openBlocks(init, logger).catch(async (err: unknown) => { await held?.release(); throw err })
  const volume = new Volume({
    blocks: access.blocks,
    signer: { publicKey, sign: (seq, payload) => encodeRoot(secretKey, seq, payload), signMessage: (message) => signMessage(secretKey, message) },
    verifier: rootVerifier,
    logger,
    metrics: init.metrics,
    ...(held === undefined ? {} : { journal: held.journal }),
  }, {
    // An embedded node is a ring of one: one copy is all it can hold (puts say so, degraded).
    ...(access.node === undefined ? {} : { minReplicas: EMBEDDED_MIN_REPLICAS }),
    ...init.volume,
  })
  try {
    await volume.start()
  } catch (err) {
    await access.close()
    await held?.release()
    throw err
  }
  return {
    volume,
    access,
    close: async (options = {}) => {
      try {
        await volume.sync(options)
      } finally {
        await volume.stop()
        await access.close()
        await held?.release()
      }
    },
  }
}

export interface OpenReaderInit extends BlockAccessInit {
  publicKey: Uint8Array
  /** A past version by sequence number; omitted: the latest. */
  version?: number
}

/** Someone's volume, read-only, by public key; sequence numbers seen are remembered on disk. */
export interface ReadOnlyVolume {
  readonly fs: FileSystem
  readonly version: VersionInfo | undefined
  readonly reader: Reader
  readonly access: BlockAccess
  close: () => Promise<void>
}

/** Directory where readers remember the highest sequence number seen per volume (rollback protection). */
export function seenRootsDir (data: string | undefined): string {
  return data ?? defaultDataDir()
}

export async function openReader (init: OpenReaderInit): Promise<ReadOnlyVolume> {
  const logger = createLogger('fs')
  const access = await openBlocks(init, logger)
  try {
    // JsonFileSeenRoots makes its directory when it first writes.
    const reader = new Reader({
      blocks: access.blocks, verifier: rootVerifier, seen: new JsonFileSeenRoots(seenRootsDir(init.data)), logger,
      ...(init.metrics === undefined ? {} : { metrics: init.metrics }),
    })
    const snapshot: Snapshot = init.version === undefined ? await reader.latest(init.publicKey) : await reader.version(init.publicKey, init.version)
    return { fs: snapshot, version: snapshot.version, reader, access, close: async () => { await access.close() } }
  } catch (err) {
    await access.close()
    throw err
  }
}
