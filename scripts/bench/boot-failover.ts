// Boot unlock when the first key server of the provider is broken and the second is alive
// (two dev key server processes holding the same keys): ekmd process start → all 24 drives
// unlocked, with the first server refusing connections, black-holed (accepts, never
// answers the TLS handshake), mute (completes TLS, never answers a request) and stopped
// (closed port), beside both healthy. ekmd runs with its default kmip.connectTimeoutMs
// (3000) and requestTimeoutMs. Goals: black-holed or mute ≤ 1 s from process start (the
// next server is asked after 250 ms, not after a timeout); refusing or stopped no slower
// than both healthy plus a refused connection (≤ 1.25 × both healthy here).
import { createServer, type TLSSocket } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki, type DevPki } from '../pki/dev-pki';
import { prepareNode, startDevServer, type BenchNode } from './fixtures/boot-node';
import { boot, fmt, median } from './fixtures/boot-runs';

const DRIVES = 24;
const ROUNDS = 7;
const BLACK_HOLE_GOAL_MS = 1000;
const VS_HEALTHY_GOAL = 1.25;

type Server = Awaited<ReturnType<typeof startDevServer>>;

interface Case {
  name: string;
  /** reference: both healthy; as healthy: no slower than it; black hole: ≤ 1 s. */
  goal: 'reference' | 'as healthy' | 'black hole';
  /** Puts the first key server in the case's state (from the previous case's). */
  breakFirst: () => Promise<void>;
}

/** A TLS server on `port` with the key server's certificate that never answers a request. */
async function muteServer(pki: DevPki, port: number): Promise<{ stop(): Promise<void> }> {
  const sockets = new Set<TLSSocket>();
  const srv = createServer(
    {
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.server.cert),
      key: readFileSync(pki.server.key),
      requestCert: true,
    },
    (s) => {
      sockets.add(s);
      s.on('data', () => undefined); // read, never answered
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    },
  );
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return {
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => srv.close(resolve));
    },
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-failover-'));
  let ok = true;
  let first: Server | undefined;
  let second: Server | undefined;
  let mute: Awaited<ReturnType<typeof muteServer>> | undefined;
  let node: BenchNode | undefined;
  try {
    const pki = await makeDevPki(join(dir, 'pki'));
    first = await startDevServer(dir, pki, 'kms1', 'objects');
    second = await startDevServer(dir, pki, 'kms2', 'objects');
    node = await prepareNode(dir, pki, DRIVES, [first.port, second.port]);
    // The keys were registered at the first; the second loads them, as a replica has them.
    await second.stop();
    second = await startDevServer(dir, pki, 'kms2', 'objects', second.port);
    const firstPort = first.port;
    const clear = async () => {
      if (!mute) return first!.inject('clear');
      await mute.stop();
      mute = undefined;
      first = await startDevServer(dir, pki, 'kms1', 'objects', firstPort);
    };
    // Each round boots every case in turn, so that the neighbours' load weighs on all alike.
    const cases: Case[] = [
      { name: 'both healthy', goal: 'reference', breakFirst: clear },
      {
        name: 'first refusing',
        goal: 'as healthy',
        breakFirst: async () => first!.inject('refuse'),
      },
      {
        name: 'first black-holed (accepts, no TLS handshake)',
        goal: 'black hole',
        breakFirst: async () => first!.inject('stall'),
      },
      {
        name: 'first mute (TLS, requests never answered)',
        goal: 'black hole',
        breakFirst: async () => {
          await first!.stop();
          mute = await muteServer(pki, firstPort);
        },
      },
      {
        name: 'first stopped (closed port)',
        goal: 'as healthy',
        breakFirst: async () => mute!.stop(),
      },
    ];
    await boot(node); // warm the page cache
    const load = loadavg()[0]!;
    const runs = cases.map((): number[] => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of cases.entries()) {
        await c.breakFirst();
        runs[i]!.push((await boot(node, { timeoutMs: 60_000 })).unlockedMs);
      }
      await clear();
    }
    console.log(
      `load average ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (2 cores shared: wall times include the neighbours)`,
    );
    const healthy = runs[0]!;
    for (const [i, c] of cases.entries()) {
      const m = median(runs[i]!);
      let verdict = '';
      if (c.goal === 'black hole') {
        ok = ok && m <= BLACK_HOLE_GOAL_MS;
        verdict = `; goal ≤ ${fmt(BLACK_HOLE_GOAL_MS)}: ${m <= BLACK_HOLE_GOAL_MS ? 'met' : 'NOT met'}`;
      } else if (c.goal === 'as healthy') {
        // Per round, against the healthy boot of the same round.
        const r = median(runs[i]!.map((x, k) => x / healthy[k]!));
        ok = ok && r <= VS_HEALTHY_GOAL;
        verdict = `; × both healthy (median per round) ${r.toFixed(2)}, goal ≤ ${VS_HEALTHY_GOAL}: ${r <= VS_HEALTHY_GOAL ? 'met' : 'NOT met'}`;
      }
      const list = runs[i]!.map((x) => x.toFixed(0)).join(', ');
      console.log(
        `${c.name}: process start → ${DRIVES}/${DRIVES} unlocked median ${fmt(m)} [${list}]${verdict}`,
      );
    }
  } finally {
    await node?.close();
    await mute?.stop().catch(() => undefined);
    await first?.stop();
    await second?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

void main();
