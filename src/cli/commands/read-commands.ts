import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type { Command } from 'commander'
import { toHex } from '../../core/index.js'
import { nsToMs, type InodeEntry, type Stat } from '../../fs/index.js'
import { cfsPath, joinCfs, readOptions, withReader, type ReadOptions } from '../volume-options.js'

const TYPE_CHAR: Record<string, string> = { dir: 'd', file: '-', symlink: 'l', fifo: 'p', socket: 's', chardev: 'c', blockdev: 'b' }

function modeString (type: string, mode: number): string {
  const bits = 'rwxrwxrwx'.split('').map((c, i) => ((mode >> (8 - i)) & 1) === 1 ? c : '-').join('')
  return (TYPE_CHAR[type] ?? '?') + bits
}

function longLine (e: InodeEntry): string {
  const time = new Date(nsToMs(e.mtimeNs)).toISOString().replace('T', ' ').slice(0, 19)
  return `${modeString(e.type, e.mode)} ${String(e.nlink).padStart(3)} ${String(e.uid).padStart(6)} ${String(e.gid).padStart(6)} ${String(e.size).padStart(12)} ${time} ${e.name}`
}

function statJson (s: Stat): Record<string, unknown> {
  return {
    type: s.type, ino: s.ino, mode: s.mode, uid: s.uid, gid: s.gid, nlink: s.nlink, size: s.size, rdev: s.rdev,
    // Nanoseconds as strings: JSON numbers lose them.
    atimeNs: String(s.atimeNs), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs), key: toHex(s.key),
  }
}

export function registerReadCommands (program: Command): void {
  readOptions(program.command('ls'))
    .description('list a directory of a volume (streamed, in name order)')
    .argument('[cfs-path]', 'directory or file', '/')
    .option('-l, --long', 'mode, size, modification time')
    .option('--json', 'one JSON object per entry')
    .action(async (p: string, opts: ReadOptions & { long?: boolean, json?: boolean }) => {
      const path = cfsPath(p)
      await withReader(opts, async (fs) => {
        const st = await fs.stat(path)
        const out = (line: string): void => { process.stdout.write(line + '\n') }
        if (st.type !== 'dir') {
          const name = path.split('/').pop() as string
          out(opts.json === true ? JSON.stringify({ name, ...statJson(st) }) : opts.long === true ? longLine({ ...st, name }) : name)
          return
        }
        for await (const e of fs.readdir(path)) {
          out(opts.json === true ? JSON.stringify({ name: e.name, ...statJson(e) }) : opts.long === true ? longLine(e) : e.name)
        }
      })
    })

  readOptions(program.command('cat'))
    .description('write a file of a volume to stdout (streamed)')
    .argument('<cfs-path>', 'file')
    .action(async (p: string, opts: ReadOptions) => {
      await withReader(opts, async (fs) => {
        await pipeline(Readable.from(fs.readStream(cfsPath(p))), new Writable({
          write (chunk: Buffer, _enc, done) { process.stdout.write(chunk, () => { done() }) },
        }))
      })
    })

  readOptions(program.command('stat'))
    .description('attributes of a file, directory or link')
    .argument('<cfs-path>', 'path')
    .option('--json', 'print JSON')
    .action(async (p: string, opts: ReadOptions & { json?: boolean }) => {
      await withReader(opts, async (fs) => {
        const path = cfsPath(p)
        const st = await fs.stat(path)
        const target = st.type === 'symlink' ? await fs.readlink(path) : undefined
        const j = { path, ...statJson(st), ...(target === undefined ? {} : { target }) }
        process.stdout.write(opts.json === true
          ? JSON.stringify(j) + '\n'
          : `${path}: ${st.type}${target === undefined ? '' : ` -> ${target}`}, mode ${(st.mode & 0o7777).toString(8)}, ${st.size} bytes, modified ${new Date(nsToMs(st.mtimeNs)).toISOString()}, inode ${toHex(st.key)}\n`)
      })
    })

  readOptions(program.command('du'))
    .description('total size of a tree in a volume')
    .argument('[cfs-path]', 'directory', '/')
    .action(async (p: string, opts: ReadOptions) => {
      await withReader(opts, async (fs) => {
        let files = 0
        let bytes = 0
        const walk = async (path: string): Promise<void> => {
          for await (const e of fs.readdir(path)) {
            if (e.type === 'dir') await walk(joinCfs(path, e.name))
            else { files++; bytes += e.type === 'file' ? e.size : 0 }
          }
        }
        await walk(cfsPath(p))
        process.stdout.write(`${bytes} bytes in ${files} file(s)\n`)
      })
    })
}
