// What the cluster's services report for metrics, passed in by whoever runs them. The
// daemon's sink feeds its Prometheus registry while a metrics server runs; without a sink
// nothing is measured. Services never reach for a process-global recorder.

export interface MetricsSink {
  /** Whether anything is recorded now: callers skip the measuring otherwise. */
  recording(): boolean;
  /** Drive unlock attempts: [ms, ok] each. */
  unlocks(timings: [ms: number, ok: boolean][]): void;
  /** A rekey's progress: `done` of `total` for `kind` (e.g. "sear"). */
  rekeyProgress(kind: string, done: number, total: number): void;
}

export const NO_METRICS: MetricsSink = {
  recording: () => false,
  unlocks: () => {},
  rekeyProgress: () => {},
};
