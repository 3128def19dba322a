import type { Command } from 'commander'
import { isCfsError, toHex } from '../../core/index.js'
import type { Volume } from '../../fs/index.js'
import { cfsPath, joinCfs, readOptions, withReader, withVolume, writeOptions, type ReadOptions, type WriteOptions } from '../volume-options.js'

/** Removes a file, link or whole directory tree; returns the entries removed. */
export async function removeTree (volume: Volume, path: string): Promise<number> {
  const st = await volume.stat(path)
  if (st.type !== 'dir') {
    await volume.unlink(path)
    return 1
  }
  let n = 0
  const names: string[] = []
  for await (const e of volume.readdir(path)) names.push(e.name)
  for (const name of names) n += await removeTree(volume, joinCfs(path, name))
  await volume.rmdir(path)
  return n + 1
}

export function registerWriteCommands (program: Command): void {
  writeOptions(program.command('rm'))
    .description('remove files (and, with -r, directories and everything in them)')
    .argument('<cfs-path...>', 'paths')
    .option('-r, --recursive', 'remove directories and their contents')
    .action(async (paths: string[], opts: WriteOptions & { recursive?: boolean }) => {
      await withVolume(opts, async ({ volume }) => {
        for (const p of paths.map(cfsPath)) {
          if (p === '/') throw new Error('refusing to remove the root directory')
          if (opts.recursive === true) await removeTree(volume, p)
          else await volume.unlink(p)
        }
      })
    })

  writeOptions(program.command('mkdir'))
    .description('make directories')
    .argument('<cfs-path...>', 'paths')
    .option('-p, --parents', 'make parent directories as needed; no error if it exists')
    .action(async (paths: string[], opts: WriteOptions & { parents?: boolean }) => {
      await withVolume(opts, async ({ volume }) => {
        for (const p of paths.map(cfsPath)) {
          if (opts.parents !== true) {
            await volume.mkdir(p)
            continue
          }
          let at = '/'
          for (const part of p.split('/').filter((s) => s !== '')) {
            at = joinCfs(at, part)
            try {
              await volume.mkdir(at)
            } catch (err) {
              if (!isCfsError(err, 'ENTRY_EXISTS')) throw err
              if ((await volume.stat(at)).type !== 'dir') throw err
            }
          }
        }
      })
    })

  writeOptions(program.command('mv'))
    .description('rename or move a file or directory (over an existing entry, across directories)')
    .argument('<from>', 'path')
    .argument('<to>', 'new path, or an existing directory to move into')
    .action(async (from: string, to: string, opts: WriteOptions) => {
      await withVolume(opts, async ({ volume }) => {
        const src = cfsPath(from)
        let dst = cfsPath(to)
        const target = await volume.stat(dst).catch(() => undefined)
        // As mv(1): an existing directory as the destination means "into it".
        if (target?.type === 'dir') dst = joinCfs(dst, src.split('/').pop() as string)
        await volume.rename(src, dst)
      })
    })

  readOptions(program.command('log'))
    .description('list the published versions of a volume, newest first')
    .option('--json', 'one JSON object per version')
    .action(async (opts: ReadOptions & { json?: boolean }) => {
      await withReader(opts, async (_fs, _version, ro) => {
        for await (const v of ro.reader.versions(ro.publicKey)) {
          const j = { seq: v.seq, time: new Date(v.timeMs).toISOString(), rootRecord: toHex(v.recordKey) }
          process.stdout.write(opts.json === true ? JSON.stringify(j) + '\n' : `${String(v.seq).padStart(6)}  ${j.time}  ${j.rootRecord}\n`)
        }
      })
    })
}
