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

/**
 * One debug instance per namespace, shared by every node in the process: creating one costs a
 * tty check and about a kilobyte, which a simulation of thousands of nodes (four loggers each)
 * felt in both time and memory. Sharing is safe because an instance reads the enabled
 * namespaces afresh whenever enableLogs() changes them.
 */
const instances = new Map<string, debug.Debugger>()

function debugFor (namespace: string): debug.Debugger {
  let d = instances.get(namespace)
  if (d === undefined) {
    d = debug(namespace)
    instances.set(namespace, d)
  }
  return d
}

/** Namespaces are `cfs:<layer>:<component>`; every line is prefixed with `prefix` (a short node id). */
export function createLogger (prefix = ''): ComponentLogger {
  return {
    forComponent (name: string): Logger {
      const ns = `cfs:${name}`
      const log = debugFor(ns)
      const tag = prefix === '' ? '' : `[${prefix}] `
      const logger = ((fmt: string, ...args: unknown[]) => { log(tag + fmt, ...args) }) as Logger
      const errorLog = debugFor(`${ns}:error`)
      logger.error = (fmt: string, ...args: unknown[]) => { errorLog(tag + fmt, ...args) }
      const traceLog = debugFor(`${ns}:trace`)
      logger.trace = (fmt: string, ...args: unknown[]) => { traceLog(tag + fmt, ...args) }
      return logger
    },
  }
}

/** Turns logging on for the given pattern (e.g. `cfs:*,-cfs:*:trace`), writing to stderr. */
export function enableLogs (pattern: string): void {
  debug.enable(pattern)
}
