// Percentiles of a sample of durations, and a process's resident set size: once, or
// sampled every few hundred ms while a run goes on.
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

/** CPU seconds (user + system) a process has used (Linux), undefined when unreadable. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // After the command's closing parenthesis: state is field 3, utime and stime 14 and 15,
    // in USER_HZ ticks (100 a second on Linux).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The environment a process started with (Linux, a process of ours), undefined when unreadable. */
export function processEnv(pid: number | undefined): Record<string, string> | undefined {
  if (pid === undefined) return undefined;
  try {
    const env: Record<string, string> = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return undefined;
  }
}

/** VmRSS of a process sampled on a timer: the largest value seen and the last. */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  /** Largest sample in MiB; undefined until one was read. */
  max: number | undefined;
  last: number | undefined;
  samples = 0;

  constructor(
    private readonly pid: number | undefined,
    private readonly read: (pid: number | undefined) => number | undefined = rssMiB,
  ) {}

  /** Takes one sample now. */
  sample(): number | undefined {
    const v = this.read(this.pid);
    if (v === undefined) return undefined;
    this.samples++;
    this.last = v;
    if (this.max === undefined || v > this.max) this.max = v;
    return v;
  }

  /** Samples now and then every `intervalMs` until stop(). */
  start(intervalMs = 250): this {
    this.stop();
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops the timer after one last sample. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }
}

export const round = (n: number, digits = 1) => Number(n.toFixed(digits));
