import { decode, encode, rfc8949EncodeOptions, type DecodeOptions } from 'cborg'
import { BlockInvalidError } from '../core/index.js'
import { CborWriter } from './cbor-writer.js'

/**
 * The one serialization of every file-tree block except raw file data: deterministic CBOR
 * (RFC 8949 core deterministic encoding: shortest integers and lengths, map keys sorted
 * bytewise, no tags, no indefinite lengths), by cborg, with a direct writer for the plain
 * values blocks are made of (cbor-writer.ts: the same bytes, faster). Equal values give equal
 * bytes, so equal trees give equal block keys.
 */
const DECODE: DecodeOptions = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
}

const writer = new CborWriter()

export function encodeCbor (value: unknown): Uint8Array {
  // The direct writer for the plain values blocks are made of; cborg for anything else.
  return writer.encode(value) ?? encode(value, rfc8949EncodeOptions)
}

/**
 * Encodes a value that holds `CborRaw` parts (encodings kept from before). Only the direct
 * writer knows those: a value it cannot write is a bug, not a case for cborg.
 */
export function encodeCborWithRaw (value: unknown): Uint8Array {
  const bytes = writer.encode(value)
  if (bytes === undefined) throw new TypeError('a value with kept encodings holds something the CBOR writer does not write')
  return bytes
}

/**
 * Decodes and insists on the canonical form: cborg cannot check map order or float width on
 * decode, so the value is encoded again and must give the same bytes. Two encodings of one
 * tree would otherwise get two keys, and a reader would accept a block the owner never wrote.
 */
export function decodeCbor (bytes: Uint8Array, what: string): unknown {
  let value: unknown
  try {
    value = decode(bytes, DECODE)
  } catch (err) {
    throw new BlockInvalidError(`${what}: not decodable CBOR`, { cause: err })
  }
  if (Buffer.compare(encodeCbor(value), bytes) !== 0) throw new BlockInvalidError(`${what}: not in canonical form`)
  return value
}
