import type { Command } from 'commander'
import { toHex } from '../../core/index.js'
import { createKeyFile } from '../../node/index.js'

export function registerKeygen (program: Command): void {
  program.command('keygen')
    .description('make a new owner key: writes the secret key to FILE (mode 0600) and prints the public key, which names the volume')
    .argument('<file>', 'where to write the secret key; an existing file is never overwritten')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const key = await createKeyFile(file)
      const publicKey = toHex(key.publicKey)
      process.stdout.write(opts.json === true ? JSON.stringify({ file, publicKey }) + '\n' : `${publicKey}\n`)
    })
}
