import { Command, CommanderError } from 'commander'
import { isCfsError } from '../core/index.js'
import { registerNode } from './commands/node.js'
import { registerStatus } from './commands/status.js'
import { registerLookup } from './commands/lookup.js'
import { registerKeygen } from './commands/keygen.js'

/** Exit codes: 0 ok, 1 operation failed, 2 usage error (commander), 3 peer unreachable. */
export async function main (argv: string[]): Promise<void> {
  const program = new Command('cfs')
    .description('cfs: a cooperative file system on a Chord ring')
    .showHelpAfterError()
    .exitOverride()
  registerNode(program)
  registerStatus(program)
  registerLookup(program)
  registerKeygen(program)
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) { // usage errors (already printed), --help, --version
      process.exitCode = err.exitCode === 0 ? 0 : 2
      return
    }
    process.stderr.write(`cfs: ${(err as Error).message}\n`)
    process.exitCode = isCfsError(err, 'NODE_UNREACHABLE') || isCfsError(err, 'TIMEOUT') ? 3 : 1
  }
}
