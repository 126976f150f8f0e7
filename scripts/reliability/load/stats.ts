// Percentiles of a sample of durations, and a process's resident set size.
import { readFileSync } from 'node:fs';

/** The p-th percentile (0–100) by nearest rank; 0 for an empty sample. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** VmRSS of a process in MiB (Linux), undefined when it cannot be read. */
export function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export const round = (n: number, digits = 1) => Number(n.toFixed(digits));
