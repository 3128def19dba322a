/**
 * Cuts a stream of byte chunks of any size into pieces that end on multiples of `blockSize`
 * counted from offset 0 of the file, starting at `offset`: the first piece runs up to the
 * first block boundary, then whole blocks, then what is left. Holds one block at most.
 */
export async function * alignedPieces (
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  offset: number,
  blockSize: number,
): AsyncGenerator<{ offset: number, bytes: Uint8Array }> {
  let at = offset
  let staged = new Uint8Array(blockSize - (offset % blockSize))
  let fill = 0
  for await (const chunk of source) {
    let from = 0
    while (from < chunk.length) {
      const n = Math.min(staged.length - fill, chunk.length - from)
      staged.set(chunk.subarray(from, from + n), fill)
      fill += n
      from += n
      if (fill === staged.length) {
        yield { offset: at, bytes: staged }
        at += fill
        staged = new Uint8Array(blockSize)
        fill = 0
      }
    }
  }
  if (fill > 0) yield { offset: at, bytes: staged.subarray(0, fill) }
}
