// Boot unlock of 24 simulated drives with PyKMIP on loopback: ekmd process start → every
// drive unlocked (polled at the simulator), beside the floor measured the same way in the
// same run: a process that does only what any implementation must (mutual TLS, one
// batched Get, every drive's status, the key check value, LOCK_UNLOCK and its read-back,
// all drives at once; fixtures/boot-floor.ts). Goal: ekmd ≤ 1.25 × the floor. Then where
// ekmd's time goes: node start, loading (bundle vs module files), its own log timestamps
// beside the floor's, and a CPU profile by module.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../pki/dev-pki';
import { startPykmip } from '../pykmip/pykmip-server';
import { prepareNode, type BenchNode } from './fixtures/boot-node';
import {
  boot,
  floorRun,
  fmt,
  logTimeline,
  median,
  unlockRun,
  writeFloorPlan,
} from './fixtures/boot-runs';

const DRIVES = 24;
const ROUNDS = 9;
const GOAL = 1.25;
const LEAN = join(__dirname, 'fixtures/boot-lean.js');
const DIST = join(__dirname, '../..');

function timeProcess(args: string[], status = 0): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== status) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return ms;
}

/** The lean unlock-first process on ekmd's state: spawn → every drive unlocked (it then exits 0). */
async function leanRun(node: BenchNode): Promise<number> {
  return (await unlockRun(node, [LEAN, join(node.dir, 'state'), node.socket])).unlockedMs;
}

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
}

/** Self time of a .cpuprofile by where the code lives (a package, a src folder, node). */
function profileByModule(file: string): [string, number][] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const group = new Map<number, string>();
  for (const n of p.nodes) {
    const url = n.callFrame.url;
    let g: string;
    if (!url) g = n.callFrame.functionName ? `(${n.callFrame.functionName})` : '(native)';
    else if (url.includes('node_modules/'))
      g = url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1');
    else if (url.includes('/dist/src/')) g = url.replace(/.*\/dist\/src\/([^/]+).*/, 'src/$1');
    else if (url.startsWith('node:')) g = 'node internals';
    else g = url;
    group.set(n.id, g);
  }
  const ms = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const g = group.get(id) ?? '?';
    ms.set(g, (ms.get(g) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...ms].sort((a, b) => b[1] - a[1]);
}

async function breakdown(node: BenchNode, floorPlan: string): Promise<void> {
  const nodeStart = median([0, 1, 2].map(() => timeProcess(['-e', '0'])));
  const ekmd = join(DIST, 'src/daemon/main.js');
  const timeEkmd = (args: string[], status = 0) =>
    median([0, 1, 2].map(() => timeProcess([ekmd, ...args], status)));
  const fromModules = (args: string[], status: number) =>
    median(
      [0, 1, 2].map(() =>
        timeProcess(
          [
            '-e',
            `require(${JSON.stringify(join(DIST, 'src/daemon/ekmd.js'))}).run(${JSON.stringify(args)})`,
          ],
          status,
        ),
      ),
    );
  console.log(`  node start (node -e 0): ${fmt(nodeStart)}`);
  console.log(`  ekmd --help (the bundle and its code cache loaded): ${fmt(timeEkmd(['--help']))}`);
  // A config whose stateDir is a file: every boot module loads, then the start fails (exit 1).
  const unusable = join(node.dir, 'ekmd-unusable.json');
  writeFileSync(
    unusable,
    JSON.stringify({
      stateDir: unusable,
      drives: { backend: 'sim', sim: { socket: node.socket } },
    }),
  );
  const loadOnly = ['--config', unusable];
  console.log(
    `  ekmd with an unusable stateDir (the boot's modules loaded; exit 1): ${fmt(timeEkmd(loadOnly, 1))}; the same from the module files, without the bundle: ${fmt(fromModules(loadOnly, 1))}`,
  );

  const debugConfig = join(node.dir, 'ekmd-debug.json');
  const cfg = JSON.parse(readFileSync(node.config, 'utf8')) as Record<string, unknown>;
  writeFileSync(debugConfig, JSON.stringify({ ...cfg, log: { level: 'debug' } }));
  const run = await boot(node, { config: debugConfig });
  console.log(
    `  one boot at log level debug: unlocked at ${fmt(run.unlockedMs)}, ready at ${fmt(run.readyMs)}; ekmd's log after spawn:`,
  );
  for (const [msg, ms] of logTimeline(run.output, run.spawnedAt))
    console.log(`    ${String(Math.round(ms)).padStart(5)} ms  ${msg}`);
  const floor = await floorRun(node, floorPlan);
  console.log(`  one floor run: unlocked at ${fmt(floor.ms)}; its steps after spawn:`);
  for (const [step, ms] of floor.steps)
    console.log(`    ${String(Math.round(ms)).padStart(5)} ms  ${step}`);

  const profDir = join(node.dir, 'prof');
  const prof = await boot(node, { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profDir] });
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return;
  console.log(
    `  CPU profile of one boot (--cpu-prof; unlocked at ${fmt(prof.unlockedMs)}), self time by module, whole run until SIGTERM:`,
  );
  for (const [g, ms] of profileByModule(join(profDir, file)).slice(0, 14))
    console.log(`    ${ms.toFixed(1).padStart(7)} ms  ${g}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-boot-'));
  let ok = false;
  let kms: Awaited<ReturnType<typeof startPykmip>> | undefined;
  let node: BenchNode | undefined;
  try {
    const pki = await makeDevPki(join(dir, 'pki'));
    kms = await startPykmip({
      dir: join(dir, 'pykmip'),
      pki: { ca: pki.ca, server: pki.server, client: pki.client },
    });
    node = await prepareNode(dir, pki, DRIVES, [kms.port]);
    if (node.uids.length !== DRIVES) throw new Error(`${node.uids.length} AKs, not ${DRIVES}`);
    const plan = writeFloorPlan(node, pki, kms.port);
    const load = loadavg()[0]!;
    await floorRun(node, plan); // warm the page cache and PyKMIP
    await boot(node);
    await leanRun(node);
    const floor: number[] = [];
    const floorCpu: number[] = [];
    const unlocked: number[] = [];
    const ekmdCpu: number[] = [];
    const ready: number[] = [];
    const lean: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const fr = await floorRun(node, plan);
      floor.push(fr.ms);
      floorCpu.push(fr.cpuMs);
      lean.push(await leanRun(node));
      const r = await boot(node);
      unlocked.push(r.unlockedMs);
      ekmdCpu.push(r.cpuMs);
      ready.push(r.readyMs);
    }
    const f = median(floor);
    const u = median(unlocked);
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(
      `load average ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (2 cores shared: wall times include the neighbours)`,
    );
    console.log(
      `floor (node, plan and certificates, mutual TLS + one batched Get of ${DRIVES} keys beside every drive's status, then per drive the key check value, LOCK_UNLOCK, read-back), process start → ${DRIVES}/${DRIVES} unlocked: median ${fmt(f)} [${list(floor)}]`,
    );
    console.log(
      `ekmd boot, process start → ${DRIVES}/${DRIVES} drives unlocked: median ${fmt(u)} [${list(unlocked)}]; "ekmd ready" at ${fmt(median(ready))}`,
    );
    // Rounds alternate, so each ratio compares runs a few seconds apart.
    const ratios = unlocked.map((x, i) => x / floor[i]!);
    console.log(
      `ratio ${(u / f).toFixed(2)} × the floor (per round: median ${median(ratios).toFixed(2)} [${ratios.map((r) => r.toFixed(2)).join(', ')}]); goal ≤ ${GOAL} × (${fmt(GOAL * f)}): ${u <= GOAL * f ? 'met' : 'NOT met'}`,
    );
    ok = u <= GOAL * f;
    const fastest = Math.min(...unlocked) / Math.min(...floor);
    console.log(
      `the least disturbed runs: ekmd ${fmt(Math.min(...unlocked))}, floor ${fmt(Math.min(...floor))}: ${fastest.toFixed(2)} ×; CPU time until unlocked (user + system): ekmd median ${fmt(median(ekmdCpu))}, floor ${fmt(median(floorCpu))} (${(median(ekmdCpu) / median(floorCpu)).toFixed(2)} ×)`,
    );
    console.log(
      `unlock-first process (ekmd's own store, sealer, KMIP client and BootUnlockService; no API, no config), process start → ${DRIVES}/${DRIVES} unlocked: median ${fmt(median(lean))} [${list(lean)}] = ${(median(lean) / f).toFixed(2)} × the floor`,
    );
    console.log('where the time goes:');
    await breakdown(node, plan);
  } finally {
    await node?.close();
    await kms?.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

void main();
