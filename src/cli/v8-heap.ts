import v8 from 'node:v8'

/**
 * How far V8 lets the old generation grow past what the last full collection kept, in percent
 * (V8's --heap-growing-percent; its own choice here was about 120%).
 *
 * A node's heap is small (~20 MB live) while blocks stream through it at 100 MB/s and more:
 * frame buffers and requests that outlive a scavenge are promoted, and with the limit V8
 * derives from so small a heap, the room left in the old generation is less than one
 * scavenge may promote, so V8 starts incremental marking again as soon as it ends. Measured on
 * bench:dhash (1 MiB puts, TLS, three nodes): 60-70 full collections in a 256 MiB run and
 * 16-20 CPU ms/MB; with 300%, 8-13 collections and 10-13 ms/MB (100%: 16-18, 200%: 12-14),
 * peak RSS unchanged (docs/BENCHMARKS.md). 300% is V8's own ceiling for its dynamic factor (4x).
 */
export const HEAP_GROWING_PERCENT = 300

const FLAG = '--heap-growing-percent'

/** Whether the operator already chose the factor on node's command line (NODE_OPTIONS may not carry it). */
export function heapGrowingChosen (execArgv: readonly string[]): boolean {
  return execArgv.some((a) => a.replaceAll('_', '-').split('=')[0] === FLAG)
}

/**
 * Sets HEAP_GROWING_PERCENT for this process unless the operator chose a factor. V8 reads the
 * flag each time it computes the limit after a full collection, so setting it at start-up
 * (after the isolate exists) takes effect from the first collection on.
 */
export function tuneHeap (execArgv: readonly string[] = process.execArgv): void {
  if (heapGrowingChosen(execArgv)) return
  v8.setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`)
}
