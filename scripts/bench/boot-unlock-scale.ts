// Boot unlock at scale: 1,000 simulated drives, keys at the dev key server (a process),
// ekmd booted as a process after a power cycle. Goals: every drive unlocked < 2 s after
// "ekmd ready" (the unlock phase), and ekmd's peak RSS (VmHWM) < 150 MB. The time from
// process start is printed too.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../pki/dev-pki';
import {
  boot,
  fmt,
  logTimeline,
  median,
  prepareNode,
  startDevServer,
  type BenchNode,
  type BootRun,
} from './fixtures/boot-node';

const DRIVES = 1000;
const ROUNDS = 3;
const GOAL_MS = 2000;
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
    const phase: number[] = [];
    const total: number[] = [];
    const rss: number[] = [];
    let last: BootRun | undefined;
    for (let i = 0; i < ROUNDS; i++) {
      const r = (last = await boot(node, { pollMs: 50, timeoutMs: 180_000 }));
      total.push(r.unlockedMs);
      phase.push(r.unlockedMs - r.readyMs);
      rss.push(r.peakRssMiB * 1.048576);
    }
    const p = median(phase);
    const m = Math.max(...rss);
    console.log(
      `load average ${loadavg()[0]!.toFixed(1)} (2 cores shared: wall times include the neighbours)`,
    );
    console.log(
      `${DRIVES} drives: "ekmd ready" → all unlocked median ${fmt(p)} [${phase.map((x) => x.toFixed(0)).join(', ')}]; goal < ${fmt(GOAL_MS)}: ${p < GOAL_MS ? 'met' : 'NOT met'}`,
    );
    console.log(
      `${DRIVES} drives: process start → all unlocked median ${fmt(median(total))} [${total.map((x) => x.toFixed(0)).join(', ')}]`,
    );
    console.log(
      `ekmd peak RSS (VmHWM) ${m.toFixed(1)} MB [${rss.map((x) => x.toFixed(1)).join(', ')}]; goal < ${GOAL_RSS_MB} MB: ${m < GOAL_RSS_MB ? 'met' : 'NOT met'}`,
    );
    ok = p < GOAL_MS && m < GOAL_RSS_MB;
    console.log(`ekmd's log after spawn (last boot; all unlocked at ${fmt(last!.unlockedMs)}):`);
    for (const [msg, ms] of logTimeline(last!.output, last!.spawnedAt))
      console.log(`  ${String(Math.round(ms)).padStart(6)} ms  ${msg}`);
  } finally {
    await node?.close();
    await kms?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

void main();
