import parsePrometheusTextFormat, { type PromFamily, type PromSample } from 'parse-prometheus-text-format'

/**
 * A parsed exposition. `families` is the parser's answer as is (names, types, help, series).
 * The parser folds a histogram's series into one whatever their labels (it keeps labelled
 * histograms only per `le`), so `series` parses the text again with histograms read as untyped
 * samples: `<name>_bucket`, `<name>_sum` and `<name>_count` keep their labels there.
 */
export interface Scrape {
  readonly families: Map<string, PromFamily>
  readonly series: Map<string, PromFamily>
}

/** Parses Prometheus text as Prometheus would (parse-prometheus-text-format). */
export function parseMetrics (text: string): Scrape {
  // Read as untyped, a labelled histogram's lines alternate between names (bucket, sum, count,
  // then the next series' buckets): the parser starts a family at each change, merged here.
  const byName = (fs: PromFamily[]): Map<string, PromFamily> => {
    const m = new Map<string, PromFamily>()
    for (const f of fs) {
      const had = m.get(f.name)
      if (had === undefined) m.set(f.name, { ...f, metrics: [...f.metrics] })
      else had.metrics.push(...f.metrics)
    }
    return m
  }
  return {
    families: byName(parsePrometheusTextFormat(text)),
    series: byName(parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'))),
  }
}

/** GET http://ADDRESS/metrics, checked for status and content type, parsed. */
export async function scrape (address: string): Promise<Scrape> {
  const res = await fetch(`http://${address}/metrics`)
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`)
  const type = res.headers.get('content-type') ?? ''
  if (!type.startsWith('text/plain') || !type.includes('version=0.0.4')) throw new Error(`GET /metrics: content type ${type}`)
  return parseMetrics(await res.text())
}

function matches (s: PromSample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => s.labels?.[k] === v)
}

function lookUp (m: Map<string, PromFamily>, name: string): PromFamily {
  const f = m.get(name)
  if (f === undefined) throw new Error(`no metric ${name}; have ${[...m.keys()].filter((n) => n.startsWith('cfs_')).join(', ')}`)
  return f
}

/** The family as the parser gave it, or a failure naming what was there instead. */
export function family (m: Scrape, name: string): PromFamily {
  return lookUp(m.families, name)
}

/** Sum of a counter's or gauge's series whose labels include `labels` (0 if none does). */
export function value (m: Scrape, name: string, labels: Record<string, string> = {}): number {
  return family(m, name).metrics.filter((s) => matches(s, labels)).reduce((a, s) => a + Number(s.value), 0)
}

/** Observations of a histogram's series whose labels include `labels` (its `_count`). */
export function observations (m: Scrape, name: string, labels: Record<string, string> = {}): number {
  if (family(m, name).type !== 'HISTOGRAM') throw new Error(`${name} is not a histogram`)
  return lookUp(m.series, `${name}_count`).metrics.filter((s) => matches(s, labels)).reduce((a, s) => a + Number(s.value), 0)
}

/** A histogram series' cumulative bucket counts by upper bound ("+Inf" last), for the series whose labels are `labels` plus `le`. */
export function buckets (m: Scrape, name: string, labels: Record<string, string> = {}): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of lookUp(m.series, `${name}_bucket`).metrics) {
    const le = s.labels?.le
    if (le === undefined || !matches(s, labels) || Object.keys(s.labels ?? {}).length !== Object.keys(labels).length + 1) continue
    out[le] = Number(s.value)
  }
  return out
}
