/**
 * Loads fuse-napi, the FUSE binding (libfuse 3). scripts/install-deps.sh builds it from source
 * with patches/fuse-napi+2.3.1.patch; its loader prefers that build (build/Release/fuse.node)
 * to any prebuild. The patch does what fuse-napi has no option for:
 * - use_ino: st_ino comes from getattr, so hard links share an inode number;
 * - invalidation by path: fuse_native_invalidate_entry with parent 2^64 - 1 and a whole path
 *   calls libfuse's fuse_invalidate_path (the kernel drops that inode's attributes and
 *   pages). fuse-napi's own invalidateEntry finds a parent by its st_ino, which use_ino makes
 *   differ from libfuse's node ids;
 * - primed attributes: a reply to create, mkdir, mknod, symlink, link or a setattr operation
 *   has primeAttributes(path, stat, noCapability), and the getattr libfuse makes right after
 *   it in the same worker is answered from those, natively;
 * - capability absence: paths known to have no security.capability are answered ENODATA
 *   natively (the kernel asks before every write(2)); fuse_native_forget_capabilities empties
 *   that set;
 * - xattr namespaces: fuse_native_set_xattr_namespaces(prefixes) has names outside them refused
 *   (EOPNOTSUPP) natively;
 * - noflush in an open's result (FOPEN_NOFLUSH): no flush when its descriptors are closed.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type Fuse from 'fuse-napi'

const require = createRequire(import.meta.url)

/** The native calls mount.ts uses beyond fuse-napi's API (pinned to 2.3.1 with the patch). */
export interface NativeBinding {
  fuse_native_invalidate_entry: (thread: unknown, parent: bigint, name: string, done: (result: number) => void) => void
  fuse_native_forget_capabilities: () => void
  fuse_native_set_xattr_namespaces: (namespaces: readonly string[]) => void
}

/** parent = this: `name` is a whole path (the patch). */
export const INVALIDATE_BY_PATH = 2n ** 64n - 1n

let loaded: { Fuse: typeof Fuse, native: NativeBinding } | undefined

/** fuse-napi and its native binding, loaded once per process (on the first mount, not on import). */
export function loadFuse (): { Fuse: typeof Fuse, native: NativeBinding } {
  if (loaded === undefined) {
    const binding = require('fuse-napi') as typeof Fuse
    const root = dirname(require.resolve('fuse-napi'))
    // The same module fuse-napi loaded (Node caches a native module by its file).
    const { loadNativeBinding } = require(join(root, 'lib', 'native-binding.js')) as { loadNativeBinding: (root: string) => NativeBinding }
    loaded = { Fuse: binding, native: loadNativeBinding(root) }
  }
  return loaded
}
