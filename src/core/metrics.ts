/**
 * The metrics port (js-libp2p's pattern): components take an optional `metrics` component and
 * make their instruments from it once, in their constructors; without one they get
 * `NO_METRICS`, whose instruments do nothing. src/node implements the port with prom-client
 * (node/metrics.ts) and serves it as GET /metrics.
 *
 * Names follow Prometheus' conventions: `cfs_<layer>_<what>`, the unit in the name
 * (`_seconds`, `_bytes`) and `_total` on counters. Label values are bound once where they are
 * known in advance (`counter.labels('put', 'ok')`), so a hot path pays no lookup of them.
 */

/** A monotonic count. */
export interface Counter {
  inc: (value?: number) => void
}

/** A value that goes up and down. */
export interface Gauge {
  set: (value: number) => void
  inc: (value?: number) => void
  dec: (value?: number) => void
}

/** Observations counted into buckets (latencies in seconds, sizes, hop counts). */
export interface Histogram {
  observe: (value: number) => void
}

/** An instrument with labels: `labels(...values)` gives the series of those values, in `labelNames` order. */
export interface Labeled<T> {
  labels: (...values: string[]) => T
}

export interface MetricOptions {
  /** `cfs_<layer>_<what>[_<unit>][_total]`. */
  name: string
  help: string
  /** Label names; the series are then reached through `labels(...)`. @default none */
  labelNames?: readonly string[]
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds of the buckets, ascending. @default DEFAULT_SECONDS_BUCKETS */
  buckets?: readonly number[]
}

/** Reports one series at scrape time: its value, then its label values in `labelNames` order. */
export type Report = (value: number, ...labelValues: string[]) => void

export interface CollectOptions extends MetricOptions {
  /** A counter (a count a component already keeps, never going down) or a gauge. */
  type: 'counter' | 'gauge'
  /** Called at each scrape; reports every series (series not reported are absent). */
  collect: (report: Report) => void
}

/**
 * Makes instruments. Asking again for a name already made gives the same instrument (vnodes
 * of one endpoint share their counters), and a collected metric asked for again takes the new
 * callback (a restarted component replaces its old self).
 */
export interface Metrics {
  counter: (options: MetricOptions) => Counter & Labeled<Counter>
  gauge: (options: MetricOptions) => Gauge & Labeled<Gauge>
  histogram: (options: HistogramOptions) => Histogram & Labeled<Histogram>
  /** A metric read at scrape time from what a component already counts (no second count). */
  collect: (options: CollectOptions) => void
}

/** Latency buckets in seconds: 1 ms to 30 s. */
export const DEFAULT_SECONDS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

const noop = (): void => {}
const NO_INSTRUMENT: Counter & Gauge & Histogram & Labeled<Counter & Gauge & Histogram> = {
  inc: noop,
  dec: noop,
  set: noop,
  observe: noop,
  labels: () => NO_INSTRUMENT,
}

/** Metrics that go nowhere: what a component uses when given none. */
export const NO_METRICS: Metrics = {
  counter: () => NO_INSTRUMENT,
  gauge: () => NO_INSTRUMENT,
  histogram: () => NO_INSTRUMENT,
  collect: noop,
}

/** Seconds since `startMs` (a `performance.now()` reading), for latency histograms. */
export function secondsSince (startMs: number): number {
  return (performance.now() - startMs) / 1000
}
