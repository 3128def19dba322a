/**
 * Loads fuse-native, with its time-setting fixed.
 *
 * fuse-native 2.2.6 loses modification times in two ways, and `cp -a`, `rsync -a` and
 * `tar -x` all need them:
 * 1. Its utimens dispatch hands JavaScript the atime twice (fuse-native.c reads `l->atime`
 *    for both argument pairs). In the linux-x64 N-API prebuild the second load is
 *    `mov 0x68(%r13),%r13`; `l->mtime` is the next field, at 0x70: one displacement byte.
 * 2. It does not set `flag_utime_omit_ok`, so libfuse 2.9 silently drops a time change that
 *    sets only one of the two times (UTIME_OMIT: `tar -x`, `touch -m`). fuse_native_mount
 *    builds the operations table on its stack; the conditional store of `ops.opendir`
 *    (an operation it registers only if asked, and cfs never asks) is replaced by
 *    `orb $4, flags(ops)` and NOPs, which sets the flag and leaves opendir unregistered.
 *
 * We check the prebuild byte for byte (SHA-256) and every patched site before changing it,
 * write the fixed copy into a per-user cache directory, and point node-gyp-build at it
 * through its documented FUSE_NATIVE_PREBUILD override. Any other build (another version,
 * platform or checksum) is loaded as it is, and `patched` is false: utimens then only knows
 * the atime.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import type FuseNative from 'fuse-native'

const require = createRequire(import.meta.url)

interface Patch {
  readonly what: string
  /** File offset of the first byte checked and replaced. */
  readonly offset: number
  readonly expect: readonly number[]
  readonly replace: readonly number[]
}

const NOP = 0x90

/** The stock prebuild: fuse-native 2.2.6, prebuilds/linux-x64/node.napi.node. */
const STOCK = {
  version: '2.2.6',
  file: join('prebuilds', 'linux-x64', 'node.napi.node'),
  sha256: '0852320a710f20cb7f5be2ededbdcce714e88a849ae317609f734766d23e18fd',
  patches: [
    {
      what: 'utimens passes l->mtime as the second time',
      offset: 0x436c, // mov 0x68(%r13),%r13  ->  mov 0x70(%r13),%r13
      expect: [0x4d, 0x8b, 0x6d, 0x68],
      replace: [0x4d, 0x8b, 0x6d, 0x70],
    },
    {
      what: 'flag_utime_omit_ok is set (instead of registering opendir)',
      // mov 0x58(%rax),%esi; test %esi,%esi; je +14; lea op_opendir(%rip),%rsi; mov %rsi,-0x938(%rbp)
      offset: 0x3391,
      expect: [0x8b, 0x70, 0x58, 0x85, 0xf6, 0x74, 0x0e, 0x48, 0x8d, 0x35, 0xc1, 0x56, 0x00, 0x00, 0x48, 0x89, 0xb5, 0xc8, 0xf6, 0xff, 0xff],
      // orb $0x4,-0x8d0(%rbp): ops lives at -0xa00(%rbp), its flags word at +0x130 (bit 2: utime_omit_ok)
      replace: [0x80, 0x8d, 0x30, 0xf7, 0xff, 0xff, 0x04, ...Array<number>(14).fill(NOP)],
    },
  ] satisfies Patch[],
}

export interface LoadedFuse {
  readonly Fuse: typeof FuseNative
  /** True when utimens receives the real mtime (the fixed prebuild is in use). */
  readonly patched: boolean
  /** Why not, when it is not. */
  readonly reason: string | undefined
}

let loaded: Promise<LoadedFuse> | undefined

/** Where the fixed prebuild is kept: $CFS_CACHE, else $XDG_CACHE_HOME/cfs, else ~/.cache/cfs. */
export function cacheDir (): string {
  return process.env.CFS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cfs')
}

/** fuse-native, loaded once per process. */
export async function loadFuse (): Promise<LoadedFuse> {
  loaded ??= load()
  return loaded
}

async function load (): Promise<LoadedFuse> {
  let reason: string | undefined
  if (process.env.FUSE_NATIVE_PREBUILD === undefined) {
    try {
      process.env.FUSE_NATIVE_PREBUILD = await fixedPrebuild()
    } catch (err) {
      reason = (err as Error).message
    }
  } else {
    reason = 'FUSE_NATIVE_PREBUILD is set by the environment'
  }
  const Fuse = require('fuse-native') as typeof FuseNative
  return { Fuse, patched: reason === undefined, reason }
}

/** Writes (once) and returns a directory holding the fixed prebuild, laid out as node-gyp-build expects. */
async function fixedPrebuild (): Promise<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`no fix for ${process.platform}-${process.arch}`)
  const pkgDir = dirname(require.resolve('fuse-native/package.json'))
  const pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as { version?: string }
  if (pkg.version !== STOCK.version) throw new Error(`fuse-native ${String(pkg.version)} is not the version the fix was made for (${STOCK.version})`)
  const stock = await readFile(join(pkgDir, STOCK.file))
  if (sha256(stock) !== STOCK.sha256) throw new Error('the fuse-native prebuild is not the one the fix was made for')
  const fixed = patchPrebuild(stock)
  const dir = join(cacheDir(), `fuse-native-${STOCK.version}-${sha256(fixed).slice(0, 16)}`)
  const file = join(dir, STOCK.file)
  const existing = await readFile(file).catch(() => undefined)
  if (existing === undefined || !existing.equals(fixed)) {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    const tmp = `${file}.${process.pid}.tmp`
    await writeFile(tmp, fixed, { mode: 0o755 })
    await rename(tmp, file)
  }
  // node-gyp-build reads package.json in the override directory's stead only for the name.
  return dir
}

/** The stock prebuild with the patches applied; throws unless every site holds exactly the expected bytes. */
export function patchPrebuild (stock: Uint8Array): Buffer {
  const fixed = Buffer.from(stock)
  for (const p of STOCK.patches) {
    if (p.expect.length !== p.replace.length) throw new Error(`patch "${p.what}" changes the code's length`)
    const found = [...stock.subarray(p.offset, p.offset + p.expect.length)]
    if (found.join() !== p.expect.join()) throw new Error(`unexpected bytes where "${p.what}" goes`)
    fixed.set(p.replace, p.offset)
  }
  return fixed
}

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}
