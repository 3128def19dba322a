import type { ErrorCode } from '../../../src/core/index.js'

/**
 * A reference file system in plain maps: what the Volume must do, operation by operation,
 * error codes included. Written straight from POSIX (and the documented choices of tree.ts:
 * symbolic links are not followed, a rename keeps the moved inode's times), not from the
 * implementation.
 */
export type MNode =
  | { type: 'file', mode: number, mtimeMs: number, ctimeMs: number, data: Uint8Array }
  | { type: 'dir', mode: number, mtimeMs: number, ctimeMs: number, children: Map<string, MNode> }
  | { type: 'symlink', mode: number, mtimeMs: number, ctimeMs: number, target: string }

type MDir = Extract<MNode, { type: 'dir' }>

export class ModelError extends Error {
  constructor (readonly code: ErrorCode) { super(code) }
}

const fail = (code: ErrorCode): never => { throw new ModelError(code) }

export class FsModel {
  root: MDir

  constructor (nowMs: number) {
    this.root = { type: 'dir', mode: 0o755, mtimeMs: nowMs, ctimeMs: nowMs, children: new Map() }
  }

  clone (): FsModel {
    const copy = new FsModel(0)
    copy.root = cloneNode(this.root) as MDir
    return copy
  }

  private dir (names: readonly string[]): MDir {
    let d = this.root
    for (const n of names) {
      const c = d.children.get(n)
      if (c === undefined) fail('ENTRY_NOT_FOUND')
      if (c!.type !== 'dir') fail('NOT_A_DIRECTORY')
      d = c as MDir
    }
    return d
  }

  private touch (d: MDir, now: number): void {
    d.mtimeMs = now
    d.ctimeMs = now
  }

  private node (names: readonly string[]): MNode {
    if (names.length === 0) return this.root
    const n = this.dir(names.slice(0, -1)).children.get(names.at(-1)!)
    return n ?? fail('ENTRY_NOT_FOUND')
  }

  private link (names: readonly string[], node: MNode, now: number): void {
    if (names.length === 0) fail('ENTRY_EXISTS')
    const d = this.dir(names.slice(0, -1))
    if (d.children.has(names.at(-1)!)) fail('ENTRY_EXISTS')
    d.children.set(names.at(-1)!, node)
    this.touch(d, now)
  }

  mkdir (names: readonly string[], now: number): void {
    const setgid = names.length > 0 && (this.dir(names.slice(0, -1)).mode & 0o2000) !== 0 // inherited, as on Linux
    this.link(names, { type: 'dir', mode: setgid ? 0o2755 : 0o755, mtimeMs: now, ctimeMs: now, children: new Map() }, now)
  }

  create (names: readonly string[], exclusive: boolean, now: number): void {
    if (!exclusive && names.length > 0) {
      const existing = this.dir(names.slice(0, -1)).children.get(names.at(-1)!)
      if (existing?.type === 'dir') fail('IS_A_DIRECTORY')
      if (existing !== undefined) return
    }
    if (names.length === 0) fail('IS_A_DIRECTORY')
    this.link(names, { type: 'file', mode: 0o644, mtimeMs: now, ctimeMs: now, data: new Uint8Array(0) }, now)
  }

  symlink (target: string, names: readonly string[], now: number): void {
    this.link(names, { type: 'symlink', mode: 0o777, mtimeMs: now, ctimeMs: now, target }, now)
  }

  unlink (names: readonly string[], now: number): void {
    if (names.length === 0) fail('IS_A_DIRECTORY')
    const d = this.dir(names.slice(0, -1))
    const n = d.children.get(names.at(-1)!) ?? fail('ENTRY_NOT_FOUND')
    if (n.type === 'dir') fail('IS_A_DIRECTORY')
    d.children.delete(names.at(-1)!)
    this.touch(d, now)
  }

  rmdir (names: readonly string[], now: number): void {
    if (names.length === 0) fail('INVALID_NAME')
    const d = this.dir(names.slice(0, -1))
    const n = d.children.get(names.at(-1)!) ?? fail('ENTRY_NOT_FOUND')
    if (n.type !== 'dir') fail('NOT_A_DIRECTORY')
    if ((n as MDir).children.size > 0) fail('DIRECTORY_NOT_EMPTY')
    d.children.delete(names.at(-1)!)
    this.touch(d, now)
  }

  rename (from: readonly string[], to: readonly string[], now: number): void {
    if (from.length === 0 || to.length === 0) fail('INVALID_NAME')
    const src = this.dir(from.slice(0, -1))
    const moved = src.children.get(from.at(-1)!) ?? fail('ENTRY_NOT_FOUND')
    const dst = this.dir(to.slice(0, -1))
    if (from.join('/') === to.join('/')) return
    if (moved.type === 'dir' && to.length > from.length && to.slice(0, from.length).join('/') === from.join('/')) fail('INVALID_NAME')
    const replaced = dst.children.get(to.at(-1)!)
    if (replaced !== undefined) {
      if (moved.type === 'dir' && replaced.type !== 'dir') fail('NOT_A_DIRECTORY')
      if (moved.type !== 'dir' && replaced.type === 'dir') fail('IS_A_DIRECTORY')
      if (replaced.type === 'dir' && replaced.children.size > 0) fail('DIRECTORY_NOT_EMPTY')
    }
    src.children.delete(from.at(-1)!)
    this.touch(src, now)
    moved.ctimeMs = now
    dst.children.set(to.at(-1)!, moved)
    this.touch(dst, now)
  }

  private file (names: readonly string[]): Extract<MNode, { type: 'file' }> {
    const n = this.node(names)
    if (n.type === 'dir') fail('IS_A_DIRECTORY')
    if (n.type === 'symlink') fail('NOT_SUPPORTED')
    return n as Extract<MNode, { type: 'file' }>
  }

  write (names: readonly string[], offset: number, bytes: Uint8Array, now: number): void {
    const f = this.file(names)
    if (bytes.length > 0) {
      const data = new Uint8Array(Math.max(f.data.length, offset + bytes.length))
      data.set(f.data)
      data.set(bytes, offset)
      f.data = data
    }
    f.mtimeMs = now
    f.ctimeMs = now
  }

  truncate (names: readonly string[], size: number, now: number): void {
    const f = this.file(names)
    const data = new Uint8Array(size)
    data.set(f.data.subarray(0, size))
    if (size !== f.data.length) { // truncate(2) changes the times only with the size
      f.mtimeMs = now
      f.ctimeMs = now
    }
    f.data = data
  }

  chmod (names: readonly string[], mode: number, now: number): void {
    const n = this.node(names)
    n.mode = mode & 0o7777
    n.ctimeMs = now
  }

  setTimes (names: readonly string[], mtimeMs: number, now: number): void {
    const n = this.node(names)
    n.mtimeMs = mtimeMs
    n.ctimeMs = now
  }
}

function cloneNode (n: MNode): MNode {
  if (n.type === 'dir') return { ...n, children: new Map([...n.children].map(([k, v]) => [k, cloneNode(v)])) }
  return { ...n }
}

/** A plain, comparable picture of a tree: path -> attributes and contents. */
export type Dump = Record<string, { type: string, mode: number, size: number, nlink: number, mtimeMs: number, ctimeMs: number, content?: string }>

export function dumpModel (model: FsModel): Dump {
  const out: Dump = {}
  const visit = (path: string, n: MNode): void => {
    const size = n.type === 'file' ? n.data.length : n.type === 'dir' ? n.children.size : Buffer.byteLength(n.target)
    out[path === '' ? '/' : path] = {
      type: n.type, mode: n.mode, size, mtimeMs: n.mtimeMs, ctimeMs: n.ctimeMs,
      nlink: n.type === 'dir' ? 2 + [...n.children.values()].filter((c) => c.type === 'dir').length : 1,
      ...(n.type === 'file' ? { content: Buffer.from(n.data).toString('hex') } : n.type === 'symlink' ? { content: n.target } : {}),
    }
    if (n.type === 'dir') for (const [name, c] of n.children) visit(`${path}/${name}`, c)
  }
  visit('', model.root)
  return out
}
