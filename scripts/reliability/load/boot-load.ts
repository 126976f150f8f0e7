// Consecutive node boots under hardware EAR: the drives power-cycled (locked), ekmd
// started, timed until every drive is unlocked, ekmd stopped. A boot fails when a drive
// is still locked after the limit or a fault is current once they are all open.
import { loadSetting } from './setting';
import { percentile, round } from './stats';

export interface BootLoadOptions {
  boots: number;
  drives: number;
  /** A boot not done by then is a failure. */
  limitMs?: number;
}

export interface BootLoadReport {
  boots: number;
  drives: number;
  failures: number;
  /** Up to 5 distinct reasons. */
  failureSamples: string[];
  /** From ekmd's spawn to every drive unlocked. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** EnableEncryptionAtRest on all the drives, once, before the boots. */
  enableMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runBootLoad(opts: BootLoadOptions): Promise<BootLoadReport> {
  const t0 = Date.now();
  const setting = await loadSetting(opts.drives);
  const enableMs = Date.now() - t0;
  const { node } = setting;
  const times: number[] = [];
  const failures: string[] = [];
  const limit = opts.limitMs ?? 60_000;
  try {
    const keyed = (await node.drives()).filter((d) => d.keyID).length;
    if (keyed !== opts.drives) throw new Error(`only ${keyed}/${opts.drives} drives under EAR`);
    for (let i = 0; i < opts.boots; i++) {
      await node.stopEkmd();
      await node.powerCycle();
      const locked = (await node.simStatus()).filter((s) => s.locked).length;
      if (locked !== opts.drives) {
        failures.push(`boot ${i}: ${locked}/${opts.drives} locked after the power cycle`);
        continue;
      }
      const start = Date.now();
      try {
        await node.startEkmd();
        let open = 0;
        while (Date.now() - start < limit) {
          open = (await node.simStatus()).filter((s) => !s.locked).length;
          if (open === opts.drives) break;
          await sleep(20);
        }
        const ms = Date.now() - start;
        if (open !== opts.drives) {
          failures.push(`boot ${i}: ${open}/${opts.drives} unlocked after ${limit} ms`);
          continue;
        }
        times.push(ms);
        const faults = await node.faultCodes();
        if (faults.length) failures.push(`boot ${i}: faults ${faults.join(',')}`);
      } catch (err) {
        failures.push(`boot ${i}: ${(err as Error).message.slice(0, 200)}`);
      }
    }
  } finally {
    await setting.close();
  }
  times.sort((a, b) => a - b);
  return {
    boots: opts.boots,
    drives: opts.drives,
    failures: failures.length,
    failureSamples: [...new Set(failures)].slice(0, 5),
    p50Ms: round(percentile(times, 50), 0),
    p99Ms: round(percentile(times, 99), 0),
    maxMs: round(times[times.length - 1] ?? 0, 0),
    enableMs,
  };
}
