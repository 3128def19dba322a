import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { InvalidArgumentError, type Command } from 'commander'
import { isCfsError } from '../../core/index.js'
import type { Volume } from '../../fs/index.js'
import { byteProgress, type Progress } from '../progress.js'
import { cfsPath, joinCfs, withVolume, writeOptions, type WriteOptions } from '../volume-options.js'

export interface PutCounts { files: number, dirs: number, links: number, bytes: number, skipped: number }

/** Local bytes under `path` (files only, links not followed): for the progress bar. */
export async function localSize (path: string): Promise<number> {
  const st = await lstat(path)
  if (st.isDirectory()) {
    let n = 0
    for (const name of await readdir(path)) n += await localSize(join(path, name))
    return n
  }
  return st.isFile() ? st.size : 0
}

async function isDir (volume: Volume, path: string): Promise<boolean> {
  try {
    return (await volume.stat(path)).type === 'dir'
  } catch (err) {
    if (isCfsError(err, 'ENTRY_NOT_FOUND')) return false
    throw err
  }
}

/**
 * Copies a local file, symbolic link or directory tree to `target` in the volume, streaming
 * each file; keeps modes and modification times. With `skipUnchanged`, a file whose size and
 * mtime match what the volume holds is not read at all (cfs backup).
 */
export async function putTree (volume: Volume, local: string, target: string, counts: PutCounts, progress: Progress, skipUnchanged = false): Promise<void> {
  const st = await lstat(local, { bigint: true })
  const mode = Number(st.mode) & 0o7777
  if (st.isDirectory()) {
    if (!await isDir(volume, target)) await volume.mkdir(target, { mode: mode })
    for (const name of (await readdir(local)).sort()) await putTree(volume, join(local, name), joinCfs(target, name), counts, progress, skipUnchanged)
    await volume.chmod(target, mode)
    counts.dirs++
  } else if (st.isSymbolicLink()) {
    const to = await readlink(local)
    await volume.unlink(target).catch((err: unknown) => { if (!isCfsError(err, 'ENTRY_NOT_FOUND')) throw err })
    await volume.symlink(to, target)
    counts.links++
  } else if (st.isFile()) {
    if (skipUnchanged) {
      const old = await volume.stat(target).catch(() => undefined)
      if (old?.type === 'file' && old.size === Number(st.size) && old.mtimeNs === st.mtimeNs) {
        counts.skipped++
        progress.add(Number(st.size))
        return
      }
    }
    // Counted as the volume pulls each chunk. A 'data' listener would switch the stream to
    // flowing mode, and chunks read before writeStream starts iterating would be lost (a put
    // over an existing file stored it empty).
    const source = counted(createReadStream(local, { highWaterMark: 1024 * 1024 }), progress)
    // Creates the file if missing and empties it, in the same change as the first write.
    counts.bytes += await volume.writeStream(target, source, { truncate: true })
    await volume.chmod(target, mode)
    await volume.setTimes(target, { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs })
    counts.files++
  } else {
    process.stderr.write(`cfs: skipping ${local}: not a file, directory or symbolic link\n`)
  }
}

async function * counted (source: AsyncIterable<Uint8Array>, progress: Progress): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    progress.add(chunk.length)
    yield chunk
  }
}

export function registerPut (program: Command): void {
  writeOptions(program.command('put'))
    .description('copy local files and directories (recursively) into your volume')
    .argument('<paths...>', 'LOCAL... CFS_PATH: local files or directories, then the destination (a directory to copy into, or the new name of a single source)')
    .option('--json', 'print JSON')
    .action(async (paths: string[], opts: WriteOptions & { json?: boolean }) => {
      if (paths.length < 2) throw new InvalidArgumentError('give at least one local path and a destination')
      const locals = paths.slice(0, -1)
      const dest = paths.at(-1) as string
      const target = cfsPath(dest)
      const total = (await Promise.all(locals.map(localSize))).reduce((a, b) => a + b, 0)
      const counts: PutCounts = { files: 0, dirs: 0, links: 0, bytes: 0, skipped: 0 }
      const started = performance.now()
      const version = await withVolume(opts, async ({ volume }) => {
        const progress = byteProgress('put', total)
        try {
          const into = locals.length > 1 || dest.endsWith('/') || await isDir(volume, target)
          for (const local of locals) await putTree(volume, local, into ? joinCfs(target, basename(local)) : target, counts, progress)
        } finally {
          progress.stop()
        }
        await volume.sync()
        return volume.stats.seq
      })
      const seconds = (performance.now() - started) / 1000
      const summary = { ...counts, version, seconds: Number(seconds.toFixed(2)), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }
      process.stdout.write(opts.json === true
        ? JSON.stringify(summary) + '\n'
        : `put ${counts.files} file(s), ${counts.dirs} dir(s), ${counts.links} link(s), ${counts.bytes} bytes in ${summary.seconds} s; published version ${version}\n`)
    })
}
