import debug from 'debug'

/** Logs of one component: `log` for events, `trace` for per-message detail, `error` for faults. */
export interface Logger {
  (formatter: string, ...args: unknown[]): void
  error: (formatter: string, ...args: unknown[]) => void
  trace: (formatter: string, ...args: unknown[]) => void
}

export interface ComponentLogger {
  forComponent: (name: string) => Logger
}

/** Namespaces are `cfs:<layer>:<component>`; every line is prefixed with `prefix` (a short node id). */
export function createLogger (prefix = ''): ComponentLogger {
  return {
    forComponent (name: string): Logger {
      const ns = `cfs:${name}`
      const log = debug(ns)
      const tag = prefix === '' ? '' : `[${prefix}] `
      const logger = ((fmt: string, ...args: unknown[]) => { log(tag + fmt, ...args) }) as Logger
      const errorLog = debug(`${ns}:error`)
      logger.error = (fmt: string, ...args: unknown[]) => { errorLog(tag + fmt, ...args) }
      const traceLog = debug(`${ns}:trace`)
      logger.trace = (fmt: string, ...args: unknown[]) => { traceLog(tag + fmt, ...args) }
      return logger
    },
  }
}

/** Turns logging on for the given pattern (e.g. `cfs:*,-cfs:*:trace`), writing to stderr. */
export function enableLogs (pattern: string): void {
  debug.enable(pattern)
}
