// Longer fuzz runs than CI's, with figures: inputs/s, outcomes by class, peak memory.
//
//   node dist/scripts/fuzz.js [--target ttlv|sim|kmip|api] [--iterations N] [--seed S]
//                             [--messages DIR]
//
// Seeds come from the captured KMIP messages (../shared/kmip-messages beside the
// checkout by default). Exits 1 when any input crashed or hung.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KmipClient } from '../src/kmip/client';
import { formatReport, runFuzz, runFuzzSync, type FuzzReport } from './reliability/fuzz/runner';
import { HostileApiNode } from './reliability/fuzz/targets/api-node';
import { apiTarget } from './reliability/fuzz/targets/api-target';
import { HostileKmipServer, kmipClientTarget } from './reliability/fuzz/targets/kmip-server';
import { simIoctlTarget } from './reliability/fuzz/targets/sim-ioctl';
import { loadCapturedMessages, ttlvTarget } from './reliability/fuzz/targets/ttlv';
import { Simulator } from '../src/sim/simulator';
import { makeDevPki } from './pki/dev-pki';

const DEFAULT_ITERATIONS: Record<string, number> = {
  ttlv: 1_000_000,
  sim: 200_000,
  kmip: 500,
  api: 5_000,
};

type Run = (iterations: number, seed: number, messages: string) => Promise<FuzzReport>;

function scratch(): { dir: string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-fuzz-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function captured(messages: string, suffix = ''): Buffer[] {
  const all = suffix
    ? readdirSync(messages)
        .filter((f) => f.endsWith(suffix))
        .map((f) => readFileSync(join(messages, f)))
    : loadCapturedMessages(messages);
  if (all.length === 0) throw new Error(`no captured KMIP messages in ${messages}; use --messages`);
  return all;
}

const runs: Record<string, Run> = {
  ttlv: async (iterations, seed, messages) =>
    runFuzzSync(ttlvTarget(captured(messages)), { iterations, seed }),
  sim: async (iterations, seed) => {
    const s = scratch();
    const sim = new Simulator({ stateDir: s.dir, drives: 4, sizeMiB: 4 });
    try {
      return runFuzzSync(simIoctlTarget(sim), { iterations, seed });
    } finally {
      sim.close();
      s.done();
    }
  },
  kmip: async (iterations, seed, messages) => {
    const s = scratch();
    const pki = await makeDevPki(s.dir);
    const pem = (p: string): string => readFileSync(p, 'utf8');
    const server = await HostileKmipServer.start({
      ca: pem(pki.ca),
      cert: pem(pki.server.cert),
      key: pem(pki.server.key),
    });
    const client = new KmipClient({
      hostnames: ['127.0.0.1'],
      port: server.port,
      ca: pem(pki.ca),
      cert: pem(pki.client.cert),
      key: pem(pki.client.key),
      version: { major: 1, minor: 2 },
      requestTimeoutMs: 150,
    });
    try {
      const target = kmipClientTarget(client, server, captured(messages, '.resp.ttlv'));
      return await runFuzz(target, { iterations, seed, hangMs: 10_000 });
    } finally {
      client.close();
      await server.close();
      s.done();
    }
  },
  api: async (iterations, seed) => {
    const node = await HostileApiNode.start();
    try {
      return await runFuzz(apiTarget(node), { iterations, seed, hangMs: 10_000 });
    } finally {
      await node.close();
    }
  },
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'ttlv' },
      iterations: { type: 'string' },
      seed: { type: 'string', default: '1' },
      messages: { type: 'string', default: resolve(__dirname, '../../../shared/kmip-messages') },
    },
  });
  const target = values.target!;
  const run = runs[target];
  if (!run) throw new Error(`--target must be one of ${Object.keys(runs).join(', ')}`);
  const iterations = Number(values.iterations ?? DEFAULT_ITERATIONS[target]);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new Error('bad --iterations');
  if (!Number.isSafeInteger(seed)) throw new Error('bad --seed');
  const cpu = process.cpuUsage();
  const report = await run(iterations, seed, values.messages!);
  const used = process.cpuUsage(cpu);
  console.log(formatReport(`${target} (seed ${seed})`, report));
  console.log(`  CPU ${((used.user + used.system) / 1e6).toFixed(2)} s`);
  return report.counts.crash + report.counts.hang > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`fuzz: ${err.message}`);
    process.exit(2);
  },
);
