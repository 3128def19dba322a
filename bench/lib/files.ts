// File helpers the benchmarks share: random input files, checksums, and a cold page cache.
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'

/** Writes `mib` MiB of random bytes to `path`, 1 MiB at a time (never held whole). */
export async function writeRandomFile (path: string, mib: number): Promise<void> {
  const fh = await open(path, 'w')
  try {
    for (let i = 0; i < mib; i++) await fh.write(randomBytes(1024 * 1024))
  } finally {
    await fh.close()
  }
}

export async function sha256File (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Writes back dirty pages, then empties the kernel's page cache (root only): reports whether it could. */
export async function dropCaches (): Promise<boolean> {
  await promisify(execFile)('sync')
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3\n')
    return true
  } catch {
    return false
  }
}
