import type { Command } from 'commander'
import { BadRequestError } from '../core/index.js'
import { openReader, openVolume, readKeyFile, readPublicKey, readRingSecret, type LinkInit, type OwnedVolume, type ReadOnlyVolume } from '../node/index.js'
import type { FileSystem, VersionInfo } from '../fs/index.js'
import { positiveInt } from './options.js'

export interface AccessOptions extends LinkOptions { ring?: string, data?: string }
export interface LinkOptions { ringSecret?: string, encrypt?: boolean }
export interface WriteOptions extends AccessOptions { key: string, minReplicas?: number }
export interface ReadOptions extends AccessOptions { key?: string, pubkey?: string, version?: number }

/** --ring, --data and --ring-secret: every command that touches a volume takes them. */
export function accessOptions (cmd: Command): Command {
  return linkOption(cmd
    .option('--ring <host:port>', 'any node of the ring to use (default: an embedded local node)')
    .option('--data <dir>', 'cfs data directory: the embedded node keeps its blocks in DIR/node (default: $CFS_DATA or ~/.local/share/cfs)'))
}

/** --ring-secret and --no-encrypt: every command that talks to a ring takes them. */
export function linkOption (cmd: Command): Command {
  return cmd
    .option('--ring-secret <file>', 'a private ring\'s shared secret (16 to 4096 bytes, e.g. head -c 32 /dev/urandom > FILE); without it, the ring must be public')
    .option('--no-encrypt', 'plaintext links instead of TLS, to measure what encryption costs: they authenticate and hide nothing, and cannot reach an encrypted ring')
}

/** How a command's links are made, from --ring-secret and --no-encrypt. */
export async function linkFrom (opts: LinkOptions): Promise<LinkInit | undefined> {
  if (opts.ringSecret === undefined && opts.encrypt !== false) return undefined
  if (opts.ringSecret !== undefined && opts.encrypt === false) throw new BadRequestError('a ring secret is proven over TLS: not with --no-encrypt')
  return {
    ...(opts.ringSecret === undefined ? {} : { ringSecret: await readRingSecret(opts.ringSecret) }),
    ...(opts.encrypt === false ? { encrypt: false } : {}),
  }
}

export function writeOptions (cmd: Command): Command {
  return minReplicasOption(accessOptions(cmd).requiredOption('--key <file>', 'the owner\'s key file (cfs keygen)'))
}

/** --min-replicas: holders every block and root must reach before a publication counts. */
export function minReplicasOption (cmd: Command): Command {
  return cmd.option('--min-replicas <n>', 'holders each block and the root must reach for a publication (fsync) to succeed (default: a majority of k through --ring, 1 on the embedded node)', positiveInt)
}

export function readOptions (cmd: Command): Command {
  return accessOptions(cmd)
    .option('--pubkey <hex|file>', 'read someone\'s volume by public key (no private key needed)')
    .option('--key <file>', 'read your own volume, by its key file')
    .option('--version <n>', 'a past version by sequence number (cfs log lists them)', positiveInt)
}

/** Opens the owner's volume, runs `f`, publishes (sync), and always closes. */
export async function withVolume<T> (opts: WriteOptions, f: (v: OwnedVolume) => Promise<T>): Promise<T> {
  // No publish timer: a command publishes once, at the end, or not at all if it fails.
  const owned = await openVolume({
    key: await readKeyFile(opts.key),
    ...(await access(opts)),
    volume: { publishIntervalMs: 0, ...(opts.minReplicas === undefined ? {} : { minReplicas: opts.minReplicas }) },
  })
  let result: T
  try {
    result = await f(owned)
  } catch (err) {
    await owned.volume.stop()
    await owned.access.close()
    throw err
  }
  await owned.close()
  const degraded = owned.volume.stats.uploads.degraded + owned.volume.stats.degradedRoots
  if (degraded > 0) process.stderr.write(`cfs: ${degraded} block(s) stored on fewer replicas than wanted (${owned.access.description})\n`)
  return result
}

/** Opens a volume for reading (by --pubkey, or --key for one's own), runs `f`, closes. */
export async function withReader<T> (
  opts: ReadOptions,
  f: (fs: FileSystem, version: VersionInfo | undefined, ro: ReadOnlyVolume & { publicKey: Uint8Array }) => Promise<T>,
): Promise<T> {
  const publicKey = await volumeKey(opts)
  const ro: ReadOnlyVolume = await openReader({ publicKey, ...(await access(opts)), ...(opts.version === undefined ? {} : { version: opts.version }) })
  try {
    return await f(ro.fs, ro.version, Object.assign(ro, { publicKey }))
  } finally {
    await ro.close()
  }
}

/** The public key of the volume a reading command names: --pubkey, or --key for one's own. */
export async function volumeKey (opts: Pick<ReadOptions, 'key' | 'pubkey'>): Promise<Uint8Array> {
  if (opts.pubkey !== undefined) return readPublicKey(opts.pubkey)
  if (opts.key === undefined) throw new BadRequestError('say whose volume: --pubkey HEX|FILE, or --key FILE for your own')
  return (await readKeyFile(opts.key)).publicKey
}

/** The --ring, --data and --ring-secret a command was given, for openVolume/openReader. */
export async function access (opts: AccessOptions): Promise<{ ring?: string, data?: string, link?: LinkInit }> {
  const link = await linkFrom(opts)
  return {
    ...(opts.ring === undefined ? {} : { ring: opts.ring }),
    ...(opts.data === undefined ? {} : { data: opts.data }),
    ...(link === undefined ? {} : { link }),
  }
}

/** A cfs path: absolute, no trailing slash (except the root), no empty components. */
export function cfsPath (p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.')
  if (parts.includes('..')) throw new BadRequestError(`'..' is not allowed in a cfs path: ${p}`)
  return '/' + parts.join('/')
}

export function joinCfs (dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}
