import type { Key } from '../core/index.js'

/** The key just before `key` on the ring. */
export function keyBefore (key: Key): Key {
  const out = new Uint8Array(key)
  for (let i = out.length - 1; i >= 0; i--) {
    const b = out[i] as number
    out[i] = (b - 1) & 255
    if (b !== 0) break
  }
  return out as Key
}
