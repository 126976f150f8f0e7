// Feeds generated inputs to a target and sorts each outcome: accepted, rejected with the
// target's own error, crash (any other exception) or hang (over the time bound), while
// sampling memory. Synchronous targets cannot be interrupted, so a hang there is a call
// measured over the bound; asynchronous ones are raced against a timer.
import { Rng } from './rng';

export type Outcome = 'accepted' | 'rejected' | 'crash' | 'hang';

export interface FuzzSample {
  iteration: number;
  outcome: Outcome;
  /** The input as the target saw it, short enough to print. */
  input: string;
  error: string;
}

export interface FuzzReport {
  iterations: number;
  counts: Record<Outcome, number>;
  elapsedMs: number;
  inputsPerSecond: number;
  peakRssBytes: number;
  peakHeapUsedBytes: number;
  /** Largest heapUsed rise over the value at the start. */
  heapGrowthBytes: number;
  /** The first few crashes and hangs, to reproduce from. */
  failures: FuzzSample[];
}

export interface FuzzTarget<I> {
  /** One input for iteration `i`, drawn only from `rng`. */
  generate(rng: Rng, i: number): I;
  /** Run the input; a returned 'rejected' is an error reported without throwing. */
  run(input: I): 'accepted' | 'rejected' | Promise<'accepted' | 'rejected'>;
  /** Errors the target is allowed to throw. */
  isOwnError(err: unknown): boolean;
  describe(input: I): string;
}

export interface FuzzOptions {
  iterations: number;
  seed: number;
  /** Time bound per input. Default 1000 ms. */
  hangMs?: number;
  /** Memory is sampled every this many inputs. Default 5000. */
  sampleEvery?: number;
  /** Failures kept in the report. Default 10. */
  keepFailures?: number;
  /**
   * Capture stack traces on errors thrown meanwhile. Default false: capturing one costs
   * more than decoding a message, and a failure is replayed from its seed anyway.
   */
  stacks?: boolean;
}

/** Run `fn` with stack capture off unless asked for. */
function withStacks<T>(stacks: boolean | undefined, fn: () => T): T {
  if (stacks) return fn();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

class Tally {
  readonly counts: Record<Outcome, number> = { accepted: 0, rejected: 0, crash: 0, hang: 0 };
  readonly failures: FuzzSample[] = [];
  private readonly started = performance.now();
  private readonly heapAtStart = process.memoryUsage().heapUsed;
  private peakRss = 0;
  private peakHeap = 0;

  constructor(private readonly keep: number) {
    this.sample();
  }

  add(i: number, outcome: Outcome, describe: () => string, error?: unknown): void {
    this.counts[outcome]++;
    if ((outcome === 'crash' || outcome === 'hang') && this.failures.length < this.keep) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.failures.push({ iteration: i, outcome, input: describe(), error: message });
    }
  }

  sample(): void {
    const m = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, m.rss);
    this.peakHeap = Math.max(this.peakHeap, m.heapUsed);
  }

  report(iterations: number): FuzzReport {
    this.sample();
    const elapsedMs = performance.now() - this.started;
    return {
      iterations,
      counts: this.counts,
      elapsedMs,
      inputsPerSecond: iterations / (elapsedMs / 1000),
      peakRssBytes: this.peakRss,
      peakHeapUsedBytes: this.peakHeap,
      heapGrowthBytes: Math.max(0, this.peakHeap - this.heapAtStart),
      failures: this.failures,
    };
  }
}

function errorOutcome<I>(target: FuzzTarget<I>, err: unknown): Outcome {
  return target.isOwnError(err) ? 'rejected' : 'crash';
}

/** For synchronous targets: one tight loop, no promises. */
export function runFuzzSync<I>(target: FuzzTarget<I>, opts: FuzzOptions): FuzzReport {
  return withStacks(opts.stacks, () => loopSync(target, opts));
}

function loopSync<I>(target: FuzzTarget<I>, opts: FuzzOptions): FuzzReport {
  const rng = new Rng(opts.seed);
  const hangMs = opts.hangMs ?? 1000;
  const sampleEvery = opts.sampleEvery ?? 5000;
  const tally = new Tally(opts.keepFailures ?? 10);
  for (let i = 0; i < opts.iterations; i++) {
    const input = target.generate(rng, i);
    const t0 = performance.now();
    let outcome: Outcome;
    let error: unknown;
    try {
      const r = target.run(input);
      if (typeof r !== 'string') throw new TypeError('an asynchronous target in runFuzzSync');
      outcome = r;
    } catch (err) {
      error = err;
      outcome = errorOutcome(target, err);
    }
    if (outcome !== 'crash' && performance.now() - t0 > hangMs) outcome = 'hang';
    tally.add(i, outcome, () => target.describe(input), error);
    if (i % sampleEvery === 0) tally.sample();
  }
  return tally.report(opts.iterations);
}

/** For asynchronous targets: one input at a time, each raced against the time bound. */
export async function runFuzz<I>(target: FuzzTarget<I>, opts: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(opts.seed);
  const hangMs = opts.hangMs ?? 1000;
  const sampleEvery = opts.sampleEvery ?? 50;
  const tally = new Tally(opts.keepFailures ?? 10);
  for (let i = 0; i < opts.iterations; i++) {
    const input = target.generate(rng, i);
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hang'>((resolve) => {
      timer = setTimeout(() => resolve('hang'), hangMs);
    });
    let outcome: Outcome;
    let error: unknown;
    try {
      outcome = await Promise.race([Promise.resolve().then(() => target.run(input)), hang]);
    } catch (err) {
      error = err;
      outcome = errorOutcome(target, err);
    } finally {
      clearTimeout(timer);
    }
    if (outcome === 'hang') error = new Error(`no outcome within ${hangMs} ms`);
    tally.add(i, outcome, () => target.describe(input), error);
    if (i % sampleEvery === 0) tally.sample();
  }
  return tally.report(opts.iterations);
}

/** The report as a few lines for a terminal. */
export function formatReport(name: string, r: FuzzReport): string {
  const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
  const c = r.counts;
  const lines = [
    `${name}: ${r.iterations} inputs in ${(r.elapsedMs / 1000).toFixed(2)} s (${Math.round(r.inputsPerSecond)}/s)`,
    `  accepted ${c.accepted}, rejected ${c.rejected}, crashes ${c.crash}, hangs ${c.hang}`,
    `  peak RSS ${mib(r.peakRssBytes)}, peak heap ${mib(r.peakHeapUsedBytes)} (+${mib(r.heapGrowthBytes)})`,
  ];
  for (const f of r.failures)
    lines.push(`  #${f.iteration} ${f.outcome}: ${f.error} <- ${f.input}`);
  return lines.join('\n');
}
