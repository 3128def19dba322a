import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Mutex } from '../core/index.js'

/**
 * The highest sequence number a reader has accepted per root key (hex), so that a node
 * replaying an older signed root is caught (RootStaleError) even after a restart.
 */
export interface SeenRoots {
  /** 0 when the key was never seen. */
  get: (rootKeyHex: string) => Promise<number>
  /** Records `seq` if it is higher than what was seen. */
  raise: (rootKeyHex: string, seq: number) => Promise<void>
}

export class MemorySeenRoots implements SeenRoots {
  private readonly seqs = new Map<string, number>()

  async get (rootKeyHex: string): Promise<number> {
    return this.seqs.get(rootKeyHex) ?? 0
  }

  async raise (rootKeyHex: string, seq: number): Promise<void> {
    if (seq > (this.seqs.get(rootKeyHex) ?? 0)) this.seqs.set(rootKeyHex, seq)
  }
}

/** The file a JsonFileSeenRoots keeps in its directory. */
export const SEEN_ROOTS_FILE = 'seen-roots.json'

interface SeenFile { version: 1, roots: Record<string, number> }

/**
 * SeenRoots in `<dir>/seen-roots.json`: `{"version":1,"roots":{"<root key hex>":<seq>}}`.
 * Each change is written to a temporary file, synced, and renamed over the old one, so a
 * crash leaves the old or the new file, never half of one. The file is read again before
 * each write and merged by maximum, so two readers sharing a directory lose nothing.
 */
export class JsonFileSeenRoots implements SeenRoots {
  private readonly path: string
  private readonly mutex = new Mutex()
  private cache: Map<string, number> | undefined

  constructor (private readonly dir: string) {
    this.path = join(dir, SEEN_ROOTS_FILE)
  }

  async get (rootKeyHex: string): Promise<number> {
    this.cache ??= await this.load()
    return this.cache.get(rootKeyHex) ?? 0
  }

  async raise (rootKeyHex: string, seq: number): Promise<void> {
    await this.mutex.run(async () => {
      const merged = await this.load()
      for (const [k, v] of this.cache ?? []) if (v > (merged.get(k) ?? 0)) merged.set(k, v)
      this.cache = merged
      if (seq <= (merged.get(rootKeyHex) ?? 0)) return
      merged.set(rootKeyHex, seq)
      await this.write(merged)
    })
  }

  private async load (): Promise<Map<string, number>> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
      throw err
    }
    const parsed = JSON.parse(text) as Partial<SeenFile>
    const out = new Map<string, number>()
    if (parsed.version !== 1 || typeof parsed.roots !== 'object' || parsed.roots === null) throw new Error(`${this.path}: not a seen-roots file`)
    for (const [k, v] of Object.entries(parsed.roots)) if (Number.isSafeInteger(v) && v > 0) out.set(k, v)
    return out
  }

  private async write (seqs: Map<string, number>): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const body: SeenFile = { version: 1, roots: Object.fromEntries([...seqs].sort(([a], [b]) => (a < b ? -1 : 1))) }
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      const file = await open(tmp, 'w')
      try {
        await file.writeFile(JSON.stringify(body, null, 2) + '\n')
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(tmp, this.path)
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    }
  }
}
