import { mkdir, open, readFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { JournalInUseError, toHex } from '../core/index.js'
import { FileJournal, JOURNAL_FILE, summarizeJournal, type JournalSummary } from '../fs/index.js'
import { defaultDataDir } from './block-access.js'
import { isAlive } from './pid-file.js'

/** The owner's journal of a volume under a cfs data directory: `<data>/journal/<public key hex>/`. */
export function journalDir (data: string | undefined, publicKey: Uint8Array): string {
  return join(data ?? defaultDataDir(), 'journal', toHex(publicKey))
}

/** The file in a journal's directory naming the process that keeps the journal. */
const LOCK_FILE = 'owner.pid'

/** A volume's journal, kept by this process alone until `release`. */
export interface HeldJournal {
  readonly journal: FileJournal
  readonly dir: string
  release: () => Promise<void>
}

/**
 * Opens the volume's journal for this process: a second owner of the same volume and data
 * directory (which would write the same journal) is refused with JournalInUseError. A lock
 * left by a killed process is taken over.
 */
export async function holdJournal (data: string | undefined, publicKey: Uint8Array): Promise<HeldJournal> {
  const dir = journalDir(data, publicKey)
  const journal = new FileJournal({ dir })
  // Only the directory, for the lock: the volume reads what the journal holds when it starts.
  await mkdir(dir, { recursive: true })
  const lock = join(dir, LOCK_FILE)
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(lock, 'wx')
      try { await fh.writeFile(`${process.pid}\n`) } finally { await fh.close() }
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err
      const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim())
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && await isAlive(pid)) {
        throw new JournalInUseError(`process ${pid} keeps this volume's journal (${dir}): one owner mount per volume and data directory`)
      }
      await rm(lock, { force: true })
    }
  }
  return { journal, dir, release: async () => { await rm(lock, { force: true }) } }
}

/** A volume's journal as `cfs status` shows it. */
export interface JournalState extends JournalSummary {
  /** The volume's public key (hex). */
  readonly volume: string
  readonly dir: string
  /** The live process keeping it (an owner mount), if any. */
  readonly keptBy: number | undefined
}

/** Every volume journal under a data directory, with what waits in each. */
export async function listJournals (data: string | undefined): Promise<JournalState[]> {
  const root = join(data ?? defaultDataDir(), 'journal')
  const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[]
    throw err
  })
  const out: JournalState[] = []
  for (const volume of names.filter((n) => /^[0-9a-f]{64}$/.test(n)).sort()) {
    const dir = join(root, volume)
    const file = await readFile(join(dir, JOURNAL_FILE)).catch(() => undefined)
    if (file === undefined) continue
    let summary: JournalSummary
    try {
      summary = summarizeJournal(file)
    } catch {
      continue // not a journal this version reads: the mount that opens it says so
    }
    const pid = Number((await readFile(join(dir, LOCK_FILE), 'utf8').catch(() => '')).trim())
    const keptBy = Number.isSafeInteger(pid) && pid > 0 && await isAlive(pid) ? pid : undefined
    out.push({ ...summary, volume, dir, keptBy })
  }
  return out
}
