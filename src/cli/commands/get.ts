import { createWriteStream } from 'node:fs'
import { lstat, mkdir, symlink, utimes, chmod } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type { Command } from 'commander'
import type { FileSystem } from '../../fs/index.js'
import { byteProgress, type Progress } from '../progress.js'
import { cfsPath, joinCfs, readOptions, withReader, type ReadOptions } from '../volume-options.js'

interface GetCounts { files: number, dirs: number, links: number, bytes: number }

async function treeSize (fs: FileSystem, path: string): Promise<number> {
  const st = await fs.stat(path)
  if (st.type !== 'dir') return st.type === 'file' ? st.size : 0
  let n = 0
  for await (const e of fs.readdir(path)) n += e.type === 'dir' ? await treeSize(fs, joinCfs(path, e.name)) : e.type === 'file' ? e.size : 0
  return n
}

/** Copies a file, link or tree out of a volume, streaming; keeps modes and modification times. */
async function getTree (fs: FileSystem, path: string, local: string, counts: GetCounts, progress: Progress): Promise<void> {
  const st = await fs.stat(path)
  if (st.type === 'dir') {
    await mkdir(local, { recursive: true })
    for await (const e of fs.readdir(path)) await getTree(fs, joinCfs(path, e.name), join(local, e.name), counts, progress)
    await chmod(local, st.mode & 0o7777)
    counts.dirs++
  } else if (st.type === 'symlink') {
    await symlink(await fs.readlink(path), local)
    counts.links++
  } else {
    const source = Readable.from(fs.readStream(path))
    source.on('data', (chunk: Uint8Array) => { progress.add(chunk.length); counts.bytes += chunk.length })
    await pipeline(source, createWriteStream(local, { mode: st.mode & 0o7777 }))
    await chmod(local, st.mode & 0o7777)
    counts.files++
  }
  // Seconds as a double: Node's utimes keeps about a microsecond of them.
  if (st.type !== 'symlink') await utimes(local, Number(st.atimeNs) / 1e9, Number(st.mtimeNs) / 1e9)
}

export function registerGet (program: Command): void {
  readOptions(program.command('get'))
    .description('copy a file or directory (recursively) out of a volume')
    .argument('<cfs-path>', 'file or directory in the volume')
    .argument('<local>', 'destination: an existing directory to copy into, or a new name')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (src: string, dest: string, opts: ReadOptions & { json?: boolean }) => {
      const path = cfsPath(src)
      await withReader(opts, async (fs) => {
        const into = await lstat(dest).then((s) => s.isDirectory(), () => false)
        const local = into ? join(dest, path === '/' ? 'cfs' : basename(path)) : dest
        const counts: GetCounts = { files: 0, dirs: 0, links: 0, bytes: 0 }
        const progress = byteProgress('get', await treeSize(fs, path))
        try {
          await getTree(fs, path, local, counts, progress)
        } finally {
          progress.stop()
        }
        if (opts.json === true) process.stdout.write(JSON.stringify({ ...counts, local, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n')
        else process.stderr.write(`got ${counts.files} file(s), ${counts.dirs} dir(s), ${counts.links} link(s), ${counts.bytes} bytes into ${local}\n`)
      })
    })
}
