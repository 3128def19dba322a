import { chmod, open, readFile } from 'node:fs/promises'
import { BadRequestError, EntryExistsError, toHex } from '../core/index.js'
import { generateSecretKey, publicKeyOf } from '../dhash/index.js'

/** An owner's key pair: the secret signs roots; the public key names the volume. */
export interface OwnerKey {
  readonly secretKey: Uint8Array
  readonly publicKey: Uint8Array
}

const KEY_FILE_HEADER = 'cfs-ed25519-secret-v1'

/**
 * Writes a new key file (one line: header and the secret key in hex), readable by its owner
 * only; refuses to overwrite an existing file. Returns the key pair.
 */
export async function createKeyFile (path: string): Promise<OwnerKey> {
  const secretKey = generateSecretKey()
  const handle = await open(path, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new EntryExistsError(`${path} already exists; a key file is never overwritten`)
    throw err
  })
  try {
    await handle.writeFile(`${KEY_FILE_HEADER} ${toHex(secretKey)}\n`)
  } finally {
    await handle.close()
  }
  await chmod(path, 0o600) // the umask may have narrowed or the file system widened it
  return { secretKey, publicKey: publicKeyOf(secretKey) }
}

export async function readKeyFile (path: string): Promise<OwnerKey> {
  const text = (await readFile(path, 'utf8')).trim()
  const m = new RegExp(`^${KEY_FILE_HEADER} ([0-9a-f]{64})$`).exec(text)
  if (m === null) throw new BadRequestError(`${path} is not a cfs key file (make one with: cfs keygen FILE)`)
  const secretKey = new Uint8Array(Buffer.from(m[1] as string, 'hex'))
  return { secretKey, publicKey: publicKeyOf(secretKey) }
}

/**
 * A public key given as 64 hex digits, or as a file holding them (or a key file, whose public
 * half is derived): what readers of someone else's volume pass.
 */
export async function readPublicKey (hexOrFile: string): Promise<Uint8Array> {
  if (/^[0-9a-f]{64}$/i.test(hexOrFile)) return new Uint8Array(Buffer.from(hexOrFile, 'hex'))
  let text: string
  try {
    text = (await readFile(hexOrFile, 'utf8')).trim()
  } catch (err) {
    throw new BadRequestError(`${hexOrFile} is neither 64 hex digits nor a readable file: ${(err as Error).message}`)
  }
  if (/^[0-9a-f]{64}$/i.test(text)) return new Uint8Array(Buffer.from(text, 'hex'))
  return (await readKeyFile(hexOrFile)).publicKey
}
