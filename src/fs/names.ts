import { InvalidNameError } from '../core/index.js'

/** The longest name a directory entry may have, in UTF-8 bytes (POSIX NAME_MAX). */
export const MAX_NAME_BYTES = 255

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Throws InvalidNameError unless `name` can be a directory entry: non-empty, at most 255 bytes
 * of UTF-8, no `/` and no NUL, not `.` or `..`. Lone surrogates are refused too: they have no
 * UTF-8 form, so two different names would encode alike.
 */
export function checkName (name: string): void {
  if (typeof name !== 'string') throw new TypeError('a name is a string')
  if (name === '' || name === '.' || name === '..') throw new InvalidNameError(`invalid name ${JSON.stringify(name)}`)
  if (name.includes('/') || name.includes('\0')) throw new InvalidNameError(`a name may not contain "/" or NUL: ${JSON.stringify(name)}`)
  if (LONE_SURROGATE.test(name)) throw new InvalidNameError(`a name must be valid Unicode: ${JSON.stringify(name)}`)
  const bytes = Buffer.byteLength(name, 'utf8')
  if (bytes > MAX_NAME_BYTES) throw new InvalidNameError(`a name is at most ${MAX_NAME_BYTES} bytes of UTF-8, got ${bytes}`)
}

/**
 * Orders names as their UTF-8 bytes do (the order entries are stored in). JS compares UTF-16
 * code units, which disagrees with UTF-8 only when a surrogate meets a unit above U+DFFF;
 * shifting the two ranges past each other fixes that without encoding.
 */
export function compareNames (a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800
    return x - y
  }
  return a.length - b.length
}

/**
 * The names along an absolute or volume-relative path: `/a//b/` is `['a', 'b']`, `/` is `[]`.
 * Every name is checked; `.` and `..` are refused rather than resolved, because resolution
 * (and following symbolic links) belongs to the caller: the kernel does it for FUSE.
 */
export function splitPath (path: string): string[] {
  if (typeof path !== 'string') throw new TypeError('a path is a string')
  const names = path.split('/').filter((n) => n !== '')
  for (const name of names) checkName(name)
  return names
}

export function joinPath (names: readonly string[]): string {
  return '/' + names.join('/')
}
