/** A component with background work. `stop()` is idempotent and aborts everything in flight. */
export interface Startable {
  start: () => Promise<void>
  stop: () => Promise<void>
}
