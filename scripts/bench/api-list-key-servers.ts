// ListKeyServersKmip latency under 64 concurrent keep-alive HTTPS clients (Basic auth on
// every request, as Element's clients send it), first saturating (each client back to back,
// so latency is mostly queueing: 64 / throughput), then paced at a steady offered rate.
// The server runs in a child process so the clients' work is not on its event loop, and
// reports its CPU per request, which the machine's load does not inflate much. Run on the
// SQLite store, then on etcd (one member on loopback: reads come from the node's view).
// Goals: p99 < 10 ms on SQLite, < 20 ms on etcd.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { startApiServer } from '../../src/api';
import { API_CERT_FILE } from '../../src/store/state-files';
import { KmipKeyServerTester } from '../../src/cluster/key-servers/kmip-tester';
import { openSealer, openSqliteStore } from '../../src/store';
import { openEtcdStore } from '../../src/store/etcd';
import { startEtcdMembers } from '../etcd/members';

const CLIENTS = 64;
const SERVERS = 4;
/** Client source addresses, each under the API's per-address connection cap (16). */
const SOURCE_ADDRESSES = 8;
const WARMUP_PER_CLIENT = 5;
const REQUESTS_PER_CLIENT = 50;
/** The paced phase: each client sends one request per interval (640 req/s offered). */
const PACED_INTERVAL_MS = 100;
const GOAL_P99_MS: Record<Backend, number> = { sqlite: 10, etcd: 20 };
type Backend = 'sqlite' | 'etcd';
const ADMIN = { username: 'admin', password: 'bench-password' };

/** Child: an API server with SERVERS key servers; reports its port over IPC. */
async function serve(dir: string, etcdEndpoints?: string): Promise<void> {
  const store = etcdEndpoints
    ? await openEtcdStore(
        { endpoints: etcdEndpoints.split(','), prefix: '/bench/' },
        { create: true },
      )
    : openSqliteStore(join(dir, 'ekmd.db'));
  const api = await startApiServer({
    store,
    sealer: openSealer({ stateDir: dir }),
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: dir,
    bootstrapAdmin: ADMIN,
    tester: new KmipKeyServerTester(),
  });
  const { keyPair, keyServers } = api.services;
  await keyPair.create({ commonName: 'bench-node' });
  const { caPem, clientPem } = signedBy(keyPair.certificateSignRequest());
  for (let i = 1; i <= SERVERS; i++) {
    await keyServers.create({
      kmipCaCertificate: caPem,
      kmipClientCertificate: clientPem,
      kmipKeyServerHostnames: [`kms-${i}.example`],
      kmipKeyServerName: `kms-${i}`,
    });
  }
  process.send?.({ port: api.address.port });
  process.on('message', () => process.send?.({ cpu: process.cpuUsage() }));
  process.on('disconnect', () => {
    void api.close().then(() => store.close());
  });
}

function signedBy(csrPem: string): { caPem: string; clientPem: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const ca = forge.pki.createCertificate();
  ca.publicKey = keys.publicKey;
  ca.serialNumber = '01';
  ca.validity.notBefore = new Date(Date.now() - 3600_000);
  ca.validity.notAfter = new Date(Date.now() + 86400_000);
  ca.setSubject([{ name: 'commonName', value: 'bench CA' }]);
  ca.setIssuer([{ name: 'commonName', value: 'bench CA' }]);
  ca.setExtensions([{ name: 'basicConstraints', cA: true }]);
  ca.sign(keys.privateKey, forge.md.sha256.create());
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  const leaf = forge.pki.createCertificate();
  leaf.publicKey = csr.publicKey as forge.pki.PublicKey;
  leaf.serialNumber = '02';
  leaf.validity.notBefore = ca.validity.notBefore;
  leaf.validity.notAfter = ca.validity.notAfter;
  leaf.setSubject(csr.subject.attributes);
  leaf.setIssuer(ca.subject.attributes);
  leaf.sign(keys.privateKey, forge.md.sha256.create());
  return { caPem: forge.pki.certificateToPem(ca), clientPem: forge.pki.certificateToPem(leaf) };
}

function call(agent: Agent, port: number, id: number): Promise<number> {
  const body = JSON.stringify({ method: 'ListKeyServersKmip', id, params: {} });
  const auth = 'Basic ' + Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64');
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/json-rpc/12.3',
        method: 'POST',
        agent,
        headers: { Authorization: auth },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const reply = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (reply.result?.kmipKeyServers?.length !== SERVERS) {
            reject(new Error(`unexpected reply: ${JSON.stringify(reply).slice(0, 200)}`));
          } else resolve(Number(process.hrtime.bigint() - started) / 1e6);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A warm-up call; a connection the API closed before its TLS handshake (it admits 32
 * handshakes at once, and 64 clients start together) is tried again, as a client would.
 */
async function warmUp(agent: Agent, port: number, id: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await call(agent, port, id);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET' || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}

/**
 * One keep-alive client: a few warm-up calls (TLS handshake), then `count` calls, each
 * sent `intervalMs` after the previous one was due (0: back to back, saturating).
 */
async function client(
  port: number,
  ca: string,
  intervalMs: number,
  latencies: number[],
  index: number,
) {
  // Spread over loopback addresses: the API caps connections per client address.
  const localAddress = `127.0.0.${2 + (index % SOURCE_ADDRESSES)}`;
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca, localAddress });
  try {
    for (let i = 0; i < WARMUP_PER_CLIENT; i++) await warmUp(agent, port, i);
    // Spread the paced clients over one interval so they do not fire in lockstep.
    let due = performance.now() + Math.random() * intervalMs;
    for (let i = 0; i < REQUESTS_PER_CLIENT; i++) {
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      latencies.push(await call(agent, port, i));
      due += intervalMs;
    }
  } finally {
    agent.destroy();
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function phase(
  port: number,
  ca: string,
  intervalMs: number,
  child: ChildProcess,
  goalMs: number,
) {
  const cpuBefore = await serverCpu(child);
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => client(port, ca, intervalMs, latencies, i)),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = await serverCpu(child);
  const sorted = latencies.sort((a, b) => a - b);
  const requests = sorted.length + CLIENTS * WARMUP_PER_CLIENT;
  const cpuMs = (cpu.user + cpu.system - cpuBefore.user - cpuBefore.system) / 1000 / requests;
  const p99 = percentile(sorted, 99);
  const mode = intervalMs
    ? `paced: each client every ${intervalMs} ms (${Math.round((CLIENTS * 1000) / intervalMs)} req/s offered)`
    : 'saturated: each client back to back';
  console.log(`  ${mode}`);
  console.log(
    `    p50 ${percentile(sorted, 50).toFixed(2)} ms  p90 ${percentile(sorted, 90).toFixed(2)} ms  ` +
      `p99 ${p99.toFixed(2)} ms  max ${sorted[sorted.length - 1].toFixed(2)} ms  ` +
      `(${sorted.length} requests, ${(requests / seconds).toFixed(0)} req/s)`,
  );
  console.log(`    server CPU ${cpuMs.toFixed(3)} ms per request`);
  console.log(`    goal p99 < ${goalMs} ms: ${p99 < goalMs ? 'met' : 'NOT met'}`);
}

function serverCpu(child: ChildProcess): Promise<NodeJS.CpuUsage> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpu: NodeJS.CpuUsage }) => resolve(m.cpu));
    child.send('cpu');
  });
}

async function main(): Promise<void> {
  await run('sqlite');
  const etcd = await startEtcdMembers({ members: 1 });
  try {
    await run('etcd', etcd.endpoints);
  } finally {
    await etcd.stop();
  }
}

async function run(backend: Backend, etcdEndpoints?: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-api-'));
  let child: ChildProcess | undefined;
  try {
    const args = ['serve', dir, ...(etcdEndpoints ? [etcdEndpoints.join(',')] : [])];
    child = fork(__filename, args, { stdio: 'inherit' });
    const port = await new Promise<number>((resolve, reject) => {
      child!.once('message', (m: { port: number }) => resolve(m.port));
      child!.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const ca = readFileSync(join(dir, API_CERT_FILE), 'utf8');
    console.log(
      `ListKeyServersKmip on ${backend}, ${CLIENTS} keep-alive HTTPS clients with Basic auth, ` +
        `${SERVERS} key servers listed, ${REQUESTS_PER_CLIENT} requests per client`,
    );
    await phase(port, ca, 0, child, GOAL_P99_MS[backend]);
    await phase(port, ca, PACED_INTERVAL_MS, child, GOAL_P99_MS[backend]);
  } finally {
    child?.disconnect();
    await new Promise((r) => (child && child.exitCode === null ? child.once('exit', r) : r(null)));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'serve') void serve(process.argv[3]!, process.argv[4]);
else
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
