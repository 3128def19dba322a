/**
 * The names the kernel has seen of inodes with more than one name (hard links).
 *
 * libfuse's path-based API gives every name its own kernel inode, so the kernel does not know
 * that two names share one: after a change through one name (a write, chmod, a new link) it
 * would keep the other names' attributes and pages until their timeout. CfsFuse notes every
 * linked name getattr answers for, and after a change through one of them has the kernel
 * drop the others' entries (fuse-napi invalidateEntry): their next lookup brings fresh
 * attributes, and a changed size or mtime drops their cached pages (auto_inval_data).
 * Inodes with one name, nearly all of them, are never noted.
 */
export class LinkedNames {
  private readonly pathsByIno = new Map<number, Set<string>>()
  private readonly inoByPath = new Map<string, number>()

  /** What getattr (or a link) found at `path`: noted while the inode has more than one name. */
  note (path: string, ino: number, nlink: number, isDir: boolean): void {
    if (isDir || nlink < 2) {
      this.forget(path)
      return
    }
    this.add(path, ino)
  }

  private add (path: string, ino: number): void {
    const known = this.inoByPath.get(path)
    if (known === ino) return
    if (known !== undefined) this.forget(path)
    this.inoByPath.set(path, ino)
    let paths = this.pathsByIno.get(ino)
    if (paths === undefined) {
      paths = new Set()
      this.pathsByIno.set(ino, paths)
    }
    paths.add(path)
  }

  /** The other noted names of the inode at `path`. */
  others (path: string): string[] {
    const ino = this.inoByPath.get(path)
    if (ino === undefined) return []
    return [...this.pathsByIno.get(ino) ?? []].filter((p) => p !== path)
  }

  /** `path` (with `subtree`, every noted name below it too) names nothing any more. */
  forget (path: string, subtree = false): void {
    for (const p of subtree ? this.under(path) : this.inoByPath.has(path) ? [path] : []) {
      const ino = this.inoByPath.get(p) as number
      this.inoByPath.delete(p)
      const paths = this.pathsByIno.get(ino)
      paths?.delete(p)
      if (paths?.size === 0) this.pathsByIno.delete(ino)
    }
  }

  /** A rename: names at and below `from` are now at and below `to`. */
  move (from: string, to: string): void {
    const moved = this.under(from).map((p) => [p, this.inoByPath.get(p) as number] as const)
    this.forget(from, true)
    for (const [p, ino] of moved) this.add(to + p.slice(from.length), ino)
  }

  get size (): number {
    return this.inoByPath.size
  }

  private under (path: string): string[] {
    const prefix = `${path}/`
    return [...this.inoByPath.keys()].filter((p) => p === path || p.startsWith(prefix))
  }
}
