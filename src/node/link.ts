import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { BadRequestError, isCfsError } from '../core/index.js'
import { makeLinkIdentity, type LinkIdentity, type TcpTransportInit } from '../net/index.js'
import { createKeyFile, readKeyFile } from './key-file.js'

/** How a process's links to the ring are made: what `--ring-secret` sets, beside the TLS default. */
export interface LinkInit {
  /** TLS 1.3 links; false is plaintext, for measuring what encryption costs. @default true */
  encrypt?: boolean
  /** A private ring's shared secret (`--ring-secret FILE`). @default none: a public ring */
  ringSecret?: Uint8Array
}

/** The identity file a node keeps in its data directory (a cfs key file: `cfs keygen`'s format). */
export const IDENTITY_FILE = 'identity.key'
/** Fewest bytes a ring secret file may hold: guessing it must be hopeless. */
export const MIN_RING_SECRET_BYTES = 16
/** Most bytes read from a ring secret file. */
export const MAX_RING_SECRET_BYTES = 4096

/**
 * The node's identity on its links, from `<dir>/identity.key`, made on first start: it stays
 * the same across restarts, so the pin others hold in its ring record stays true.
 */
export async function loadIdentity (dir: string): Promise<LinkIdentity> {
  const path = join(dir, IDENTITY_FILE)
  const key = await readKeyFile(path).catch(async (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    return createKeyFile(path).catch(async (e: unknown) => {
      if (isCfsError(e, 'ENTRY_EXISTS')) return readKeyFile(path) // another start made it first
      throw e
    })
  })
  return makeLinkIdentity(key.secretKey)
}

/** A ring secret file's bytes, as they are (make one with `head -c 32 /dev/urandom > ring.secret`). */
export async function readRingSecret (path: string): Promise<Uint8Array> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch (err) {
    throw new BadRequestError(`cannot read the ring secret ${path}: ${(err as Error).message}`)
  }
  if (size < MIN_RING_SECRET_BYTES || size > MAX_RING_SECRET_BYTES) {
    throw new BadRequestError(`${path}: a ring secret is ${MIN_RING_SECRET_BYTES} to ${MAX_RING_SECRET_BYTES} bytes, this file has ${size} (make one with: head -c 32 /dev/urandom > ${path})`)
  }
  return new Uint8Array(await readFile(path))
}

/** The TcpTransport settings a LinkInit stands for; `identityDir`: where the endpoint's identity is kept, if anywhere. */
export function linkTransportInit (link: LinkInit = {}, identityDir?: string): Pick<TcpTransportInit, 'encrypt' | 'ringSecret' | 'identity'> {
  const encrypt = link.encrypt ?? true
  return {
    encrypt,
    ...(link.ringSecret === undefined ? {} : { ringSecret: link.ringSecret }),
    ...(encrypt && identityDir !== undefined ? { identity: async () => loadIdentity(identityDir) } : {}),
  }
}
