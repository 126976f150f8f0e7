// RekeySoftwareEncryptionAtRestMasterKey with 1,000 simulated drives (1,000 DEKs re-wrapped),
// the external master key at PyKMIP: time from the call to status complete, and the KMIP
// round trips the whole rekey took (goal: a constant, not per drive). Three rekeys:
// internal → external, external → external (a new key at the same provider), and
// external → internal (the old key revoked and destroyed).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import forge from 'node-forge';
import pino from 'pino';
import { AsyncResultService } from '../../src/cluster/async-results/async-results';
import { openHardwareEar } from '../../src/daemon/hardware-ear-wiring';
import { openSear } from '../../src/daemon/sear-wiring';
import { SimServer } from '../../src/sim/server';
import { Simulator } from '../../src/sim/simulator';
import { openSealer, openSqliteStore } from '../../src/store';
import { makeDevPki, type DevPki } from '../pki/dev-pki';
import { startPykmip } from '../pykmip/pykmip-server';
import { createBenchCluster } from './fixtures/bench-cluster';

const DRIVES = 1000;
const GOAL_MS = 2000;
/** Get old MK, Create, Activate+Get, Revoke+Destroy old, and one version negotiation. */
const GOAL_ROUND_TRIPS = 5;

function sign(pki: DevPki, csrPem: string): string {
  const caCert = forge.pki.certificateFromPem(readFileSync(pki.ca, 'utf8'));
  const caKey = forge.pki.privateKeyFromPem(readFileSync(join(pki.dir, 'ca-key.pem'), 'utf8'));
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey as forge.pki.PublicKey;
  cert.serialNumber = '0b' + Date.now().toString(16);
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-sear-'));
  const pki = await makeDevPki(join(dir, 'pki'));
  const kms = await startPykmip({
    dir: join(dir, 'pykmip'),
    pki: { ca: pki.ca, server: pki.server, client: pki.client },
  });
  const sim = new Simulator({ stateDir: join(dir, 'sim'), drives: DRIVES, sizeMiB: 1 });
  const socket = join(dir, 'sim.sock');
  const simServer = new SimServer(sim, socket);
  await simServer.listen();
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  const sealer = openSealer({ stateDir: dir });
  let ok = true;
  try {
    const services = await createBenchCluster(store, sealer, { softwareEncryption: true });
    const server = await services.keyServers.create({
      kmipCaCertificate: readFileSync(pki.ca, 'utf8'),
      kmipClientCertificate: sign(pki, services.keyPair.certificateSignRequest()),
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: 'pykmip',
      kmipKeyServerPort: kms.port,
    });
    const provider = await services.keyProviders.create('bench');
    await services.keyProviders.addServer(provider.keyProviderID, server.keyServerID);
    const { counts, logger } = messageCounter();
    const config = {
      drives: { backend: 'sim' as const, sim: { socket } },
      kmip: { connectTimeoutMs: 3000, requestTimeoutMs: 60_000 },
    };
    const hw = openHardwareEar(config, { store, sealer });
    const sear = await openSear(config, { store, sealer, logger });
    const results = new AsyncResultService(store);
    try {
      await hw.start();
      await hw.drives.idle();
      sear.start();
      await sear.service.idle();
      const attached = sim.status().drives.filter((d) => d.dek === 'attached').length;
      console.log(
        `${DRIVES} drives, ${attached} DEKs attached; goal < ${GOAL_MS} ms and at most ` +
          `${GOAL_ROUND_TRIPS} KMIP round trips per rekey, any drive count`,
      );
      ok = attached === DRIVES;
      const rekeys: [string, { keyManagementType: string; keyProviderID?: number }][] = [
        [
          'internal → external',
          { keyManagementType: 'External', keyProviderID: provider.keyProviderID },
        ],
        [
          'external → external',
          { keyManagementType: 'External', keyProviderID: provider.keyProviderID },
        ],
        ['external → internal', { keyManagementType: 'Internal' }],
      ];
      for (const [what, params] of rekeys) {
        counts.batches = 0;
        counts.negotiations = 0;
        const started = performance.now();
        const handle = await sear.service.rekey(params);
        let r = await results.get(handle, true);
        while (r.status !== 'complete') {
          await new Promise((res) => setImmediate(res));
          r = await results.get(handle, true);
        }
        const ms = performance.now() - started;
        await sear.service.idle();
        const trips = counts.batches + counts.negotiations;
        const success = 'result' in r;
        console.log(
          `${what}: ${success ? 'complete' : 'FAILED'} in ${ms.toFixed(0)} ms, ${DRIVES} DEKs re-wrapped, ` +
            `KMIP round trips ${trips} (${counts.negotiations} version negotiation, ${counts.batches} batched messages)`,
        );
        ok = ok && success && ms < GOAL_MS && trips <= GOAL_ROUND_TRIPS;
      }
    } finally {
      await sear.close();
      await hw.close();
    }
  } finally {
    await store.close();
    await simServer.close();
    sim.close();
    await kms.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

void main();
