import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { InvalidArgumentError } from 'commander'
import { isCfsError, sleep } from '../../core/index.js'
import type { Volume } from '../../fs/index.js'
import { openVolume, readKeyFile } from '../../node/index.js'
import { byteProgress } from '../progress.js'
import { access, cfsPath, joinCfs, writeOptions, type WriteOptions } from '../volume-options.js'
import { localSize, putTree, type PutCounts } from './put.js'
import { removeTree } from './write-commands.js'

function duration (value: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(value)
  if (m === null) throw new InvalidArgumentError('expected a duration like 30s, 10m or 1h')
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] as number)
}

/** Removes from the volume what no longer exists locally under `local`. */
async function prune (volume: Volume, local: string, target: string): Promise<number> {
  let removed = 0
  const names: Array<{ name: string, type: string }> = []
  for await (const e of volume.readdir(target)) names.push({ name: e.name, type: e.type })
  for (const { name, type } of names) {
    const here = await lstat(join(local, name)).catch(() => undefined)
    const path = joinCfs(target, name)
    const sameKind = here !== undefined && (type === 'dir' ? here.isDirectory() : type === 'symlink' ? here.isSymbolicLink() : here.isFile())
    if (sameKind) {
      if (type === 'dir') removed += await prune(volume, join(local, name), path)
      continue
    }
    removed += await removeTree(volume, path)
  }
  return removed
}

export function registerBackup (program: Command): void {
  writeOptions(program.command('backup'))
    .description('publish a local directory into your volume and keep it published: unchanged files (same size and mtime) are skipped, and content addressing stores unchanged blocks once')
    .argument('<local-dir>', 'directory to back up')
    .argument('<cfs-path>', 'where it lives in the volume (mirrored: files deleted locally are removed there)')
    .option('--every <duration>', 'run again at this interval (30s, 10m, 1h) until interrupted', duration)
    .option('--json', 'one JSON object per run')
    .action(async (local: string, dest: string, opts: WriteOptions & { every?: number, json?: boolean }) => {
      if (!(await lstat(local)).isDirectory()) throw new InvalidArgumentError(`${local} is not a directory`)
      const target = cfsPath(dest)
      // Each round publishes once, at its end.
      const owned = await openVolume({
        key: await readKeyFile(opts.key),
        ...(await access(opts)),
        volume: { publishIntervalMs: 0 },
      })
      const stop = new AbortController()
      const onSignal = (): void => { stop.abort() }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      try {
        const { volume } = owned
        do {
          const started = performance.now()
          const before = volume.stats.uploads
          const counts: PutCounts = { files: 0, dirs: 0, links: 0, bytes: 0, skipped: 0 }
          const progress = byteProgress('backup', await localSize(local))
          try {
            await putTree(volume, local, target, counts, progress, true)
          } finally {
            progress.stop()
          }
          const removed = await prune(volume, local, target).catch((err: unknown) => { if (isCfsError(err, 'ENTRY_NOT_FOUND')) return 0; throw err })
          await volume.sync()
          const after = volume.stats.uploads
          const report = {
            time: new Date().toISOString(),
            version: volume.stats.seq,
            uploadedFiles: counts.files,
            unchangedFiles: counts.skipped,
            removed,
            bytesRead: counts.bytes,
            blocksUploaded: after.puts - before.puts,
            bytesUploaded: after.bytes - before.bytes,
            seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
          }
          process.stdout.write(opts.json === true
            ? JSON.stringify(report) + '\n'
            : `backup ${report.time}: version ${report.version}, ${report.uploadedFiles} file(s) uploaded, ${report.unchangedFiles} unchanged, ${removed} removed; ${report.blocksUploaded} block(s), ${report.bytesUploaded} bytes sent in ${report.seconds} s\n`)
          if (opts.every === undefined) break
          await sleep(opts.every, { signal: stop.signal }).catch(() => {})
        } while (!stop.signal.aborted)
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await owned.close()
      }
    })
}
