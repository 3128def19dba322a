/**
 * Loads fuse-napi, the FUSE binding (libfuse 3). scripts/install-deps.sh builds it from source
 * with patches/fuse-napi+2.3.1.patch (use_ino: st_ino comes from getattr); its loader prefers
 * that build (build/Release/fuse.node) to any prebuild.
 */
import { createRequire } from 'node:module'
import type Fuse from 'fuse-napi'

const require = createRequire(import.meta.url)

let loaded: typeof Fuse | undefined

/** fuse-napi, loaded once per process (on the first mount, not on import). */
export function loadFuse (): typeof Fuse {
  loaded ??= require('fuse-napi') as typeof Fuse
  return loaded
}
