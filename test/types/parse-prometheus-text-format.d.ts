// The package ships no types; this is the shape of its output (prom2json's).
declare module 'parse-prometheus-text-format' {
  export interface PromSample {
    value?: string
    labels?: Record<string, string>
    /** Histograms: cumulative count per upper bound ("+Inf" included). */
    buckets?: Record<string, string>
    /** Summaries. */
    quantiles?: Record<string, string>
    count?: string
    sum?: string
  }
  export interface PromFamily {
    name: string
    help: string
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
    metrics: PromSample[]
  }
  export default function parsePrometheusTextFormat (text: string): PromFamily[]
}
