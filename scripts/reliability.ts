// The reliability figures in one run: the fault matrix table, the hostile-input fuzzers
// for a bounded count, the API load and the consecutive-boot load.
//
//   node dist/scripts/reliability.js [--short] [--only matrix|fuzz|load] [--cell TEXT]...
//                                    [--load-seconds N] [--idle-seconds N] [--boots N]
//
// --short runs the CI subset of the matrix and shorter fuzz and load runs. Exits 1 when a
// cell fails, a fuzz input crashed or hung, or a load run saw an error. The API load run
// starts ekmd with the systemd unit's Environment= and prints its RSS (sampled every
// 250 ms, and again after --idle-seconds idle: 60, 0 with --short) against the memory
// goals; a missed goal is printed, not failed (the figure depends on the machine).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CELLS, MatrixRun, formatTable, type CellResult } from './reliability/matrix';
import { RSS_GOALS, runApiLoad, runBootLoad, type ApiLoadReport } from './reliability/load';

const FUZZ = {
  full: { ttlv: 1_000_000, sim: 200_000, kmip: 500, api: 5_000 },
  short: { ttlv: 50_000, sim: 20_000, kmip: 50, api: 300 },
};

const say = (line = '') => process.stdout.write(`${line}\n`);

async function matrix(short: boolean, only: string[]): Promise<boolean> {
  const cells = CELLS.filter((c) =>
    only.length ? only.some((o) => c.name.includes(o)) : !short || c.ci,
  );
  say(`== fault matrix: ${cells.length} cells`);
  const run = await MatrixRun.open();
  const results: CellResult[] = [];
  const started = Date.now();
  try {
    for (const cell of cells) {
      const r = await run.run(cell);
      say(
        `  ${r.skipped ? 'skip' : r.pass ? 'pass' : 'FAIL'}  ${r.cell} (${(r.ms / 1000).toFixed(1)} s)`,
      );
      results.push(r);
    }
  } finally {
    await run.close();
  }
  say();
  say(formatTable(results));
  say(`matrix time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return results.every((r) => r.pass || r.skipped);
}

/** The fuzz runner (scripts/fuzz.ts) as a child: its own report lines and exit code. */
function fuzz(target: string, iterations: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(__dirname, 'fuzz.js'), '--target', target, '--iterations', String(iterations)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => {
      say(out.trimEnd());
      resolve(code === 0);
    });
  });
}

/** ekmd's memory over the API load run, against the goals. */
function rssLines(api: ApiLoadReport): string[] {
  const goal = (value: number | undefined, limit: number) =>
    value === undefined ? 'not read' : value <= limit ? 'met' : 'MISSED';
  const env = Object.entries(api.ekmdEnv).map(([k, v]) => `${k}=${v}`);
  return [
    `ekmd RSS ${api.rssBeforeMiB} MiB before; max ${api.rssMaxDuringMiB} MiB during ` +
      `(${api.rssDuringSamples} samples, goal ≤ ${RSS_GOALS.maxDuringMiB} MiB: ` +
      `${goal(api.rssMaxDuringMiB, RSS_GOALS.maxDuringMiB)}); ${api.rssAfterMiB} MiB at the end`,
    api.idleAfterS > 0
      ? `ekmd RSS ${api.rssIdleMiB} MiB after ${api.idleAfterS} s idle ` +
        `(goal ≤ ${RSS_GOALS.idleAfterMiB} MiB after ${RSS_GOALS.idleAfterS} s: ` +
        `${goal(api.rssIdleMiB, RSS_GOALS.idleAfterMiB)})`
      : 'ekmd RSS after the run: not waited for (--idle-seconds)',
    `load average ${api.loadAvgBefore} at the start, ${api.loadAvgAfter} at the end; ` +
      `ekmd environment (the unit's): ${env.join(' ') || 'none'}`,
  ];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      short: { type: 'boolean', default: false },
      only: { type: 'string' },
      cell: { type: 'string', multiple: true, default: [] },
      'load-seconds': { type: 'string' },
      'idle-seconds': { type: 'string' },
      boots: { type: 'string' },
    },
  });
  const short = values.short!;
  const part = values.only;
  if (part && !['matrix', 'fuzz', 'load'].includes(part))
    throw new Error('--only must be matrix, fuzz or load');
  let ok = true;

  if (!part || part === 'matrix') ok = (await matrix(short, values.cell!)) && ok;

  if (!part || part === 'fuzz') {
    say();
    say('== hostile input (scripts/fuzz.ts)');
    for (const [target, n] of Object.entries(short ? FUZZ.short : FUZZ.full))
      ok = (await fuzz(target, n)) && ok;
  }

  if (!part || part === 'load') {
    say();
    const seconds = Number(values['load-seconds'] ?? (short ? 10 : 60));
    const clients = short ? 50 : 200;
    say(`== load: ${clients} API clients for ${seconds} s, mixed reads and writes`);
    const idleSeconds = Number(values['idle-seconds'] ?? (short ? 0 : RSS_GOALS.idleAfterS));
    const api = await runApiLoad({
      clients,
      durationMs: seconds * 1000,
      idleAfterMs: idleSeconds * 1000,
    });
    say(
      `  ${api.calls} calls (${api.reads} reads, ${api.writes} writes), ${api.callsPerS}/s ` +
        `(ekmd CPU ${api.ekmdCpuMsPerCall} ms a call), ` +
        `errors ${api.errors} (${api.reconnects} calls made again on a new connection after the ` +
        `API closed one before its TLS handshake); latency p50 ${api.p50Ms} ms, p99 ${api.p99Ms} ms, max ${api.maxMs} ms ` +
        `(reads alone p50 ${api.readP50Ms} ms, p99 ${api.readP99Ms} ms)`,
    );
    for (const line of rssLines(api)) say(`  ${line}`);
    for (const [method, m] of Object.entries(api.byMethod))
      say(
        `    ${method.padEnd(22)} ${String(m.calls).padStart(6)} calls  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms`,
      );
    for (const [kind, n] of Object.entries(api.errorKinds)) say(`  errors ${kind}: ${n}`);
    for (const e of api.errorSamples) say(`  error: ${e}`);
    ok = api.errors === 0 && ok;
    const boots = Number(values.boots ?? (short ? 10 : 100));
    say(`== load: ${boots} consecutive boots, 24 drives under EAR`);
    const boot = await runBootLoad({ boots, drives: 24 });
    say(
      `  ${boot.boots} boots, failures ${boot.failures}; spawn to ${boot.drives}/${boot.drives} ` +
        `unlocked p50 ${boot.p50Ms} ms, p99 ${boot.p99Ms} ms, max ${boot.maxMs} ms ` +
        `(EnableEncryptionAtRest on ${boot.drives} drives: ${boot.enableMs} ms)`,
    );
    for (const f of boot.failureSamples) say(`  failure: ${f}`);
    ok = boot.failures === 0 && ok;
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`reliability: ${err.message}\n`);
    process.exit(2);
  },
);
