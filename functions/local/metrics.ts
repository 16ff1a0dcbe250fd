/**
 * The local `Metrics`: in-memory counters for the progress display and the
 * closing summary. Counting is all it does, so it never slows a page down.
 */
import type { Metrics, PageMetric } from "../../shared/ports";

export interface MetricsSnapshot {
  /** Answers by kind in this run; a page retried twice counts three times. */
  readonly outcomes: Readonly<Record<PageMetric["outcome"], number>>;
  /** Non-ok answers in this run by code. */
  readonly codes: Readonly<Record<string, number>>;
  readonly bytesOnWire: number;
  /** Sum of fetch times, for the mean. */
  readonly fetchMs: number;
}

export class RunMetrics implements Metrics {
  private readonly outcomes: Record<PageMetric["outcome"], number> = { ok: 0, failed: 0, retry: 0, malformed: 0 };
  private readonly codes = new Map<string, number>();
  private bytesOnWire = 0;
  private fetchMs = 0;

  recordPage(metric: PageMetric): void {
    this.outcomes[metric.outcome] += 1;
    if (metric.code) this.codes.set(metric.code, (this.codes.get(metric.code) ?? 0) + 1);
    this.bytesOnWire += metric.bytesOnWire;
    this.fetchMs += metric.fetchMs;
  }

  snapshot(): MetricsSnapshot {
    return {
      outcomes: { ...this.outcomes },
      codes: Object.fromEntries(this.codes),
      bytesOnWire: this.bytesOnWire,
      fetchMs: this.fetchMs,
    };
  }
}
