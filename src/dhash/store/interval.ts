import { between, keysEqual, type Key } from '../../core/index.js'
import type { KeyInterval } from './block-store.js'

/** True when `key` lies in (from, to]; from == to is the whole ring. */
export function inInterval (key: Key, interval: KeyInterval): boolean {
  return keysEqual(interval.from, interval.to) || between(key, interval.from, interval.to, true)
}
