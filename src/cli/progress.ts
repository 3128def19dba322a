import { SingleBar, Presets } from 'cli-progress'

/** Byte progress on stderr for long transfers; silent when stderr is not a terminal. */
export interface Progress {
  add: (bytes: number) => void
  stop: () => void
}

export function byteProgress (label: string, totalBytes: number): Progress {
  if (process.stderr.isTTY !== true || totalBytes < 8 * 1024 * 1024) return { add: () => {}, stop: () => {} }
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
  }, Presets.shades_classic)
  const mib = (n: number): number => Math.round(n / 1048576)
  let done = 0
  bar.start(mib(totalBytes), 0)
  return {
    add: (bytes) => { done += bytes; bar.update(mib(done)) },
    stop: () => { bar.stop() },
  }
}
