// Whether this process records metrics: a metrics server switches it on. Until then the
// places that observe (unlock rounds, rekeys) do not load prom-client, tens of ms, for
// numbers nobody can read. Free of prom-client itself, so asking costs nothing.
let recording = 0;

export const recordingMetrics = (): boolean => recording > 0;

/** A metrics server started; returns its stop. Servers may overlap (tests). */
export function startRecordingMetrics(): () => void {
  recording++;
  let stopped = false;
  return () => {
    if (!stopped) recording--;
    stopped = true;
  };
}

/** Drive unlock attempts into the unlock histogram, when recording: [ms, ok] each. */
export function recordUnlocks(timings: [ms: number, ok: boolean][]): void {
  if (timings.length === 0 || !recordingMetrics()) return;
  const { observeUnlock } = require('./index') as typeof import('./index');
  for (const [ms, ok] of timings) observeUnlock(ms, ok);
}

/** A rekey's progress into its gauge, when recording. */
export function recordRekeyProgress(kind: string, done: number, total: number): void {
  if (!recordingMetrics()) return;
  const { setRekeyProgress } = require('./index') as typeof import('./index');
  setRekeyProgress(kind, done, total);
}

/** The sink the daemon hands to its services: records only while a metrics server runs. */
export const recordingSink = {
  recording: recordingMetrics,
  unlocks: recordUnlocks,
  rekeyProgress: recordRekeyProgress,
};
