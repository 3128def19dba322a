import { resolve } from 'node:path'
import type { Command } from 'commander'
import { unmountDir } from '../../node/index.js'

export function registerUnmount (program: Command): void {
  program.command('unmount')
    .alias('umount')
    .description('unmount a cfs mount: the serving process publishes, unmounts and exits; a dead mount (killed process) is detached')
    .argument('<dir>', 'the mount point')
    .option('--lazy', 'detach a dead mount even if busy (fusermount -z)')
    .action(async (dir: string, opts: { lazy?: boolean }) => {
      const how = await unmountDir(dir, { lazy: opts.lazy === true })
      process.stdout.write(`unmounted ${resolve(dir)}${how === 'detached' ? ' (no process was serving it)' : ''}\n`)
    })
}
