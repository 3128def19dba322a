import { BlockInvalidError, type Key } from '../core/index.js'
import { decodeCbor, encodeCbor } from './codec.js'
import { FS_FORMAT_VERSION, Fields } from './format.js'
import type { NodeCodec } from './tree-store.js'

/**
 * One published version of a volume: the signed root's payload, and also stored as a content
 * block so that `prev` links are hash-checked and old versions stay readable.
 */
export interface RootRecord {
  /** Equals the signed root's sequence number. */
  readonly seq: number
  /** Publication time, milliseconds since the epoch (the owner's clock). */
  readonly timeMs: number
  /** Key of the top directory's inode. */
  readonly top: Key
  /** Content key of the previous version's record; null for the first. */
  readonly prev: Key | null
}

export const rootRecordCodec: NodeCodec<RootRecord> = {
  name: 'root record',
  encode: (r: RootRecord): Uint8Array => encodeCbor({ v: FS_FORMAT_VERSION, t: 'root', seq: r.seq, time: r.timeMs, top: r.top, prev: r.prev }),
  decode (bytes: Uint8Array, what: string): RootRecord {
    const f = Fields.of(decodeCbor(bytes, what), 'root', what).only('seq', 'time', 'top', 'prev')
    const seq = f.uint('seq')
    if (seq < 1) throw new BlockInvalidError(`${what}: sequence numbers start at 1`)
    return { seq, timeMs: f.int('time'), top: f.key('top'), prev: f.keyOrNull('prev') }
  },
}
