// Boot unlock at scale: 1,000 simulated drives, keys at the dev key server (a process),
// ekmd booted as a process after a power cycle. Goals: every drive unlocked ≤ 1 s after
// process start, and ekmd's peak RSS (VmHWM) < 150 MB. The unlock phase ("ekmd ready" →
// all unlocked; negative when the last drive unlocked before ready) and the floor of
// boot-unlock.ts at this scale are printed too.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../pki/dev-pki';
import { prepareNode, startDevServer, type BenchNode } from './fixtures/boot-node';
import {
  boot,
  floorRun,
  fmt,
  logTimeline,
  median,
  writeFloorPlan,
  type BootRun,
} from './fixtures/boot-runs';

const DRIVES = 1000;
const ROUNDS = 3;
const GOAL_MS = 1000;
const GOAL_RSS_MB = 150;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-boot-scale-'));
  let ok = false;
  let kms: Awaited<ReturnType<typeof startDevServer>> | undefined;
  let node: BenchNode | undefined;
  try {
    const pki = await makeDevPki(join(dir, 'pki'));
    kms = await startDevServer(dir, pki, 'kmip');
    const t0 = performance.now();
    node = await prepareNode(dir, pki, DRIVES, [kms.port]);
    console.log(
      `setup (untimed goal): EAR enabled on ${DRIVES} drives in ${fmt(performance.now() - t0)}`,
    );
    const load = loadavg()[0]!;
    const plan = writeFloorPlan(node, pki, kms.port);
    const phase: number[] = [];
    const total: number[] = [];
    const rss: number[] = [];
    const floor: number[] = [];
    let last: BootRun | undefined;
    for (let i = 0; i < ROUNDS; i++) {
      floor.push((await floorRun(node, plan, { pollMs: 50, timeoutMs: 180_000 })).ms);
      const r = (last = await boot(node, { pollMs: 50, timeoutMs: 180_000 }));
      total.push(r.unlockedMs);
      phase.push(r.unlockedMs - r.readyMs);
      rss.push(r.peakRssMiB * 1.048576);
    }
    const p = median(phase);
    const m = Math.max(...rss);
    const medianTotal = median(total);
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(
      `load average ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (2 cores shared: wall times include the neighbours)`,
    );
    console.log(
      `${DRIVES} drives: process start → all unlocked median ${fmt(medianTotal)} [${list(total)}]; goal ≤ ${fmt(GOAL_MS)}: ${medianTotal <= GOAL_MS ? 'met' : 'NOT met'}`,
    );
    console.log(`${DRIVES} drives: "ekmd ready" → all unlocked median ${fmt(p)} [${list(phase)}]`);
    console.log(
      `${DRIVES} drives, the floor (boot-unlock's, all drives at once): median ${fmt(median(floor))} [${list(floor)}]; ekmd = ${(medianTotal / median(floor)).toFixed(2)} × the floor`,
    );
    console.log(
      `ekmd peak RSS (VmHWM) ${m.toFixed(1)} MB [${rss.map((x) => x.toFixed(1)).join(', ')}]; goal < ${GOAL_RSS_MB} MB: ${m < GOAL_RSS_MB ? 'met' : 'NOT met'}`,
    );
    ok = medianTotal <= GOAL_MS && m < GOAL_RSS_MB;
    console.log(`ekmd's log after spawn (last boot; all unlocked at ${fmt(last!.unlockedMs)}):`);
    for (const [msg, ms] of logTimeline(last!.output, last!.spawnedAt))
      console.log(`  ${String(Math.round(ms)).padStart(6)} ms  ${msg}`);
    // The steps in between, at log level debug (which costs a line per ioctl: slower).
    const debugConfig = join(dir, 'ekmd-debug.json');
    const cfg = JSON.parse(readFileSync(node.config, 'utf8')) as Record<string, unknown>;
    writeFileSync(debugConfig, JSON.stringify({ ...cfg, log: { level: 'debug' } }));
    const dbg = await boot(node, { pollMs: 50, timeoutMs: 180_000, config: debugConfig });
    console.log(
      `one boot at log level debug (all unlocked at ${fmt(dbg.unlockedMs)}), first of each line:`,
    );
    for (const [msg, ms] of logTimeline(dbg.output, dbg.spawnedAt))
      console.log(`  ${String(Math.round(ms)).padStart(6)} ms  ${msg}`);
  } finally {
    await node?.close();
    await kms?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

void main();
