import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import {
  DEFAULT_SECONDS_BUCKETS,
  type CollectOptions, type Counter as CounterPort, type Gauge as GaugePort, type Histogram as HistogramPort, type HistogramOptions, type Labeled,
  type MetricOptions, type Metrics, type Report,
} from '../core/index.js'

export interface PromMetricsInit {
  /** prom-client's process metrics (CPU, memory, event loop lag, GC, handles) too. @default true */
  processMetrics?: boolean
}

/** Metrics a process serves: the port, and their Prometheus text exposition. */
export interface ScrapeableMetrics extends Metrics {
  /** The Content-Type of `scrape()`'s text. */
  readonly contentType: string
  /** Every metric, in the Prometheus text format (version 0.0.4). */
  scrape: () => Promise<string>
}

type Kind = 'counter' | 'gauge' | 'histogram'

/**
 * The metrics port on prom-client, with a registry of its own (never prom-client's global one:
 * tests run several nodes in one process, each with its own metrics). One per process that
 * serves /metrics: a `cfs node`, or a `cfs mount` with its embedded node or ring client.
 */
export class PromMetrics implements ScrapeableMetrics {
  readonly registry = new Registry()
  private readonly made = new Map<string, { kind: Kind, metric: Metric }>()
  /** The current callback of each collected metric (a re-registration replaces it). */
  private readonly collectors = new Map<string, (report: Report) => void>()
  /** Histogram series shown at 0 since first bound. */
  private readonly zeroed = new Set<string>()

  constructor (init: PromMetricsInit = {}) {
    if (init.processMetrics ?? true) collectDefaultMetrics({ register: this.registry })
  }

  get contentType (): string { return this.registry.contentType }

  async scrape (): Promise<string> {
    return this.registry.metrics()
  }

  counter (options: MetricOptions): CounterPort & Labeled<CounterPort> {
    const c = this.make('counter', options, () => new Counter(this.config(options))) as Counter
    // A series bound is shown from then on, at 0 until counted (rate() has a start).
    return { inc: (v) => { c.inc(v ?? 1) }, labels: (...values) => { const child = c.labels(...values); child.inc(0); return child } }
  }

  gauge (options: MetricOptions): GaugePort & Labeled<GaugePort> {
    const g = this.make('gauge', options, () => new Gauge(this.config(options))) as Gauge
    return {
      set: (v) => { g.set(v) },
      inc: (v) => { g.inc(v ?? 1) },
      dec: (v) => { g.dec(v ?? 1) },
      labels: (...values) => g.labels(...values),
    }
  }

  histogram (options: HistogramOptions): HistogramPort & Labeled<HistogramPort> {
    const h = this.make('histogram', options, () => new Histogram({ ...this.config(options), buckets: [...(options.buckets ?? DEFAULT_SECONDS_BUCKETS)] })) as Histogram
    const names = options.labelNames ?? []
    return {
      observe: (v) => { h.observe(v) },
      labels: (...values) => {
        // zero() would wipe a series already there: only the first binding of one shows it.
        const series = [options.name, ...values].join('\0')
        if (!this.zeroed.has(series)) {
          this.zeroed.add(series)
          h.zero(Object.fromEntries(names.map((n, i) => [n, values[i] ?? ''])))
        }
        return h.labels(...values)
      },
    }
  }

  collect (options: CollectOptions): void {
    this.collectors.set(options.name, options.collect)
    const collectors = this.collectors
    const name = options.name
    if (options.type === 'counter') {
      this.make('counter', options, () => new Counter({
        ...this.config(options),
        // A counter read from a component's own count: set afresh at each scrape.
        collect (this: Counter) {
          this.reset()
          collectors.get(name)?.((value, ...labels) => {
            if (labels.length === 0) this.inc(value)
            else this.labels(...labels).inc(value)
          })
        },
      }))
    } else {
      this.make('gauge', options, () => new Gauge({
        ...this.config(options),
        collect (this: Gauge) {
          this.reset()
          collectors.get(name)?.((value, ...labels) => {
            if (labels.length === 0) this.set(value)
            else this.labels(...labels).set(value)
          })
        },
      }))
    }
  }

  private config (options: MetricOptions): { name: string, help: string, labelNames: string[], registers: Registry[] } {
    return { name: options.name, help: options.help, labelNames: [...(options.labelNames ?? [])], registers: [this.registry] }
  }

  /** The metric of that name, made now unless it was made before (as the same kind). */
  private make (kind: Kind, options: MetricOptions, create: () => Metric): Metric {
    const had = this.made.get(options.name)
    if (had !== undefined) {
      if (had.kind !== kind) throw new TypeError(`metric ${options.name} is a ${had.kind}, not a ${kind}`)
      return had.metric
    }
    const metric = create()
    this.made.set(options.name, { kind, metric })
    return metric
  }
}
