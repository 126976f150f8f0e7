// EnableEncryptionAtRest on simulated drives with PyKMIP as the key server: time from the
// call to `enabled`, and the KMIP round trips it took (goal: a small constant per
// provider, not per drive), on 24 and on 1,000 drives.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import forge from 'node-forge';
import pino from 'pino';
import { getEar } from '../../src/cluster/ear-state';
import { openHardwareEar } from '../../src/daemon/hardware-ear-wiring';
import { SimServer } from '../../src/sim/server';
import { Simulator } from '../../src/sim/simulator';
import { openSealer, openSqliteStore } from '../../src/store';
import { makeDevPki, type DevPki } from '../pki/dev-pki';
import { startPykmip } from '../pykmip/pykmip-server';
import { createBenchCluster } from './fixtures/bench-cluster';

const DRIVE_COUNTS = [24, 1000];
const GOAL_ROUND_TRIPS = 4;

/** The cluster's CSR signed by the dev CA with clientAuth, as an operator would. */
function sign(pki: DevPki, csrPem: string): string {
  const caCert = forge.pki.certificateFromPem(readFileSync(pki.ca, 'utf8'));
  const caKey = forge.pki.privateKeyFromPem(readFileSync(join(pki.dir, 'ca-key.pem'), 'utf8'));
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey as forge.pki.PublicKey;
  cert.serialNumber = '0a' + Date.now().toString(16);
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 86400_000);
  cert.setSubject(csr.subject.attributes);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([{ name: 'extKeyUsage', clientAuth: true }]);
  cert.sign(caKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** Counts the KMIP client's messages from its debug log (one line per exchange). */
function messageCounter() {
  const counts = { batches: 0, negotiations: 0 };
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line.includes('"msg":"kmip batch"')) counts.batches++;
        if (line.includes('"msg":"kmip version"')) counts.negotiations++;
      }
      done();
    },
  });
  return { counts, logger: pino({ level: 'debug' }, stream) };
}

async function run(drives: number, pki: DevPki, kmsPort: number): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-ear-'));
  const sim = new Simulator({ stateDir: join(dir, 'sim'), drives, sizeMiB: 1 });
  const socket = join(dir, 'sim.sock');
  const simServer = new SimServer(sim, socket);
  await simServer.listen();
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  const sealer = openSealer({ stateDir: dir });
  try {
    const services = await createBenchCluster(store, sealer);
    const server = await services.keyServers.create({
      kmipCaCertificate: readFileSync(pki.ca, 'utf8'),
      kmipClientCertificate: sign(pki, services.keyPair.certificateSignRequest()),
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: 'pykmip',
      kmipKeyServerPort: kmsPort,
    });
    const provider = await services.keyProviders.create('bench');
    await services.keyProviders.addServer(provider.keyProviderID, server.keyServerID);
    const { counts, logger } = messageCounter();
    const hw = openHardwareEar(
      {
        drives: { backend: 'sim', sim: { socket } },
        kmip: { connectTimeoutMs: 3000, requestTimeoutMs: 60_000 },
      },
      { store, sealer, logger },
    );
    await hw.start();
    const started = performance.now();
    await hw.ear.enable(provider.keyProviderID);
    await hw.ear.idle();
    const ms = performance.now() - started;
    const enabled = hw.drives.records().filter((d) => d.security === 'enabled').length;
    const state = getEar(store).state;
    await hw.close();
    const trips = counts.batches + counts.negotiations;
    console.log(
      `${drives} drives: ${state} in ${ms.toFixed(0)} ms (${(ms / drives).toFixed(1)} ms/drive), ` +
        `${enabled}/${drives} drives secured, KMIP round trips ${trips} ` +
        `(${counts.negotiations} version negotiation, ${counts.batches} batched messages)`,
    );
    return state === 'enabled' && enabled === drives && trips <= GOAL_ROUND_TRIPS;
  } finally {
    await store.close();
    await simServer.close();
    sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-kms-'));
  const pki = await makeDevPki(join(dir, 'pki'));
  const kms = await startPykmip({
    dir: join(dir, 'pykmip'),
    pki: { ca: pki.ca, server: pki.server, client: pki.client },
  });
  let ok = true;
  try {
    console.log(`goal: at most ${GOAL_ROUND_TRIPS} KMIP round trips per provider, any drive count`);
    for (const n of DRIVE_COUNTS) ok = (await run(n, pki, kms.port)) && ok;
  } finally {
    await kms.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

void main();
