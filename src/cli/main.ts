import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { isCfsError } from '../core/index.js'
import { registerNode } from './commands/node.js'
import { registerStatus } from './commands/status.js'
import { registerLookup } from './commands/lookup.js'
import { registerKeygen } from './commands/keygen.js'
import { registerPut } from './commands/put.js'
import { registerGet } from './commands/get.js'
import { registerReadCommands } from './commands/read-commands.js'
import { registerWriteCommands } from './commands/write-commands.js'
import { registerBackup } from './commands/backup.js'
import { registerMount } from './commands/mount.js'
import { registerUnmount } from './commands/unmount.js'
import { registerWhere } from './commands/where.js'
import { tuneHeap } from './v8-heap.js'

/**
 * Exit codes: 0 ok, 1 the operation failed (no such file, not empty, ...), 2 usage (bad
 * arguments or names), 3 the ring or a peer could not be reached or refused us (a private ring), 4 another writer published
 * first (conflict: nothing of this command was published), 5 another process has what this
 * one needs (its data directory: STORE_LOCKED, or its listen address: ADDRESS_IN_USE).
 */
function exitCodeFor (err: unknown): number {
  if (isCfsError(err, 'BAD_REQUEST') || isCfsError(err, 'INVALID_NAME')) return 2
  if (isCfsError(err, 'NODE_UNREACHABLE') || isCfsError(err, 'TIMEOUT') || isCfsError(err, 'LOOKUP_FAILED') || isCfsError(err, 'FORBIDDEN')) return 3
  if (isCfsError(err, 'ROOT_CONFLICT')) return 4
  if (isCfsError(err, 'STORE_LOCKED') || isCfsError(err, 'ADDRESS_IN_USE')) return 5
  return 1
}

/** package.json's version; dist/cli/ and src/cli/ are both two levels below it. */
function packageVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

export async function main (argv: string[]): Promise<void> {
  tuneHeap()
  // `cfs cat x | head`: a closed pipe ends the command quietly, as it does for cat(1).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0) })
  const program = new Command('cfs')
    .description('cfs: a cooperative file system on a Chord ring')
    .version(packageVersion(), '-V, --version', 'print the version of cfs')
    // `cfs --version` is the program's; after a command name, options are the command's, so
    // `cfs get --version 3` still picks a volume version.
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
  registerNode(program)
  registerStatus(program)
  registerLookup(program)
  registerKeygen(program)
  registerPut(program)
  registerGet(program)
  registerReadCommands(program)
  registerWriteCommands(program)
  registerBackup(program)
  registerMount(program)
  registerUnmount(program)
  registerWhere(program)
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) { // usage errors (already printed), --help, --version
      process.exitCode = err.exitCode === 0 ? 0 : 2
      return
    }
    process.stderr.write(`cfs: ${(err as Error).message}\n`)
    process.exitCode = exitCodeFor(err)
  }
}
