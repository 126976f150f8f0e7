// ekmd's memory and throughput under the API load run (scripts/reliability/load/api-load):
// 200 clients for 60 s, ekmd's RSS sampled every 250 ms, then again after 60 s idle.
// Variants of ekmd's environment (glibc malloc tunables, NODE_OPTIONS, ...) run interleaved
// round by round (A, B, A, B) so a busy machine weighs on each alike.
// Goals: RSS ≤ 200 MiB during the run, < 160 MiB 60 s after; throughput within 5% of
// the first variant (no variable by default). calls/s follows the machine's other work;
// ekmd's CPU time per call much less so: both are printed, with the load average.
//   node dist/scripts/bench/api-memory.js [--rounds N] [--clients N] [--seconds N]
//        [--idle-seconds N] [--variant 'NAME: VAR=VALUE VAR=VALUE']...
// Without --variant: "none" (no variable) and "unit" (systemd/ekmd.service's Environment=).
import { parseArgs } from 'node:util';
import { RSS_GOALS, runApiLoad, type ApiLoadReport } from '../reliability/load';
import { round } from '../reliability/load/stats';
import { shippedEnvironment, unitEnvironment } from '../reliability/load/unit-env';

interface Variant {
  name: string;
  env: Record<string, string>;
}

/** "NAME: VAR=VALUE VAR=VALUE" (the variables as an Environment= line reads them). */
export function parseVariant(text: string): Variant {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new Error(`--variant 'NAME: VAR=VALUE ...', not '${text}'`);
  const env = unitEnvironment(`[Service]\nEnvironment=${text.slice(colon + 1).trim()}\n`);
  return { name: text.slice(0, colon).trim(), env };
}

/** The middle value; the mean of the two middle ones for an even count. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const fmt = (n: number | undefined) => (n === undefined ? '-' : String(round(n)));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '2' },
      clients: { type: 'string', default: '200' },
      seconds: { type: 'string', default: '60' },
      'idle-seconds': { type: 'string', default: String(RSS_GOALS.idleAfterS) },
      variant: { type: 'string', multiple: true, default: [] },
    },
  });
  const variants: Variant[] = values.variant!.length
    ? values.variant!.map(parseVariant)
    : [
        { name: 'none', env: {} },
        { name: 'unit', env: shippedEnvironment() },
      ];
  const rounds = Number(values.rounds);
  const runs = new Map<string, ApiLoadReport[]>(variants.map((v) => [v.name, []]));
  for (const v of variants)
    console.log(
      `variant ${v.name}: ${
        Object.entries(v.env)
          .map(([k, x]) => `${k}=${x}`)
          .join(' ') || '(no variable)'
      }`,
    );
  console.log(
    `${values.clients} clients for ${values.seconds} s, RSS again after ${values['idle-seconds']} s idle; ` +
      `${rounds} rounds`,
  );
  console.log(
    'round variant   calls/s  CPU ms/call  errors  RSS before  max during  at end  after idle  load avg',
  );
  for (let r = 1; r <= rounds; r++) {
    for (const v of variants) {
      const rep = await runApiLoad({
        clients: Number(values.clients),
        durationMs: Number(values.seconds) * 1000,
        idleAfterMs: Number(values['idle-seconds']) * 1000,
        ekmdEnv: v.env,
      });
      runs.get(v.name)!.push(rep);
      console.log(
        `${String(r).padStart(5)} ${v.name.padEnd(9)} ${String(rep.callsPerS).padStart(7)} ` +
          `${String(rep.ekmdCpuMsPerCall).padStart(12)} ${String(rep.errors).padStart(7)} ${fmt(rep.rssBeforeMiB).padStart(11)} ` +
          `${fmt(rep.rssMaxDuringMiB).padStart(11)} ${fmt(rep.rssAfterMiB).padStart(7)} ` +
          `${fmt(rep.rssIdleMiB).padStart(11)}  ${rep.loadAvgBefore} → ${rep.loadAvgAfter}`,
      );
      if (rep.reconnects)
        console.log(`      calls made again on a new connection: ${rep.reconnects}`);
      for (const [kind, n] of Object.entries(rep.errorKinds))
        console.log(`      errors ${kind}: ${n}`);
      for (const e of rep.errorSamples) console.log(`      error: ${e}`);
    }
  }
  const base = median(runs.get(variants[0]!.name)!.map((x) => x.callsPerS));
  const baseCpu = median(runs.get(variants[0]!.name)!.map((x) => x.ekmdCpuMsPerCall ?? NaN));
  console.log(`\nmedians (throughput against ${variants[0]!.name}):`);
  for (const v of variants) {
    const reps = runs.get(v.name)!;
    const cps = median(reps.map((x) => x.callsPerS));
    const cpu = median(reps.map((x) => x.ekmdCpuMsPerCall ?? NaN));
    const maxDuring = median(reps.map((x) => x.rssMaxDuringMiB ?? NaN));
    const idle = median(reps.map((x) => x.rssIdleMiB ?? NaN));
    const during = maxDuring <= RSS_GOALS.maxDuringMiB ? 'met' : 'missed';
    const after = idle < RSS_GOALS.idleAfterMiB ? 'met' : 'missed';
    console.log(
      `  ${v.name.padEnd(9)} ${round(cps)} calls/s (${round((cps / base - 1) * 100)}%), ` +
        `ekmd CPU ${round(cpu, 2)} ms a call (${round((cpu / baseCpu - 1) * 100)}%), ` +
        `RSS max during ${fmt(maxDuring)} MiB (goal ≤ ${RSS_GOALS.maxDuringMiB}: ${during}), ` +
        `after idle ${fmt(idle)} MiB (goal < ${RSS_GOALS.idleAfterMiB}: ${after})`,
    );
  }
  if ([...runs.values()].flat().some((x) => x.errors > 0)) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(err);
    process.exit(1);
  });
}
