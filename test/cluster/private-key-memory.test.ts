// The cluster private key and the API's self-signed key exist only in Buffers that are
// zeroed (and in KeyObjects, inside OpenSSL): no JS string ever holds them, so neither a
// heap snapshot nor the process's memory shows their PEM or DER once the work is done.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEAL_LABEL as API_SEAL_LABEL } from '../../src/api/self-signed';
import { ClusterKeyPair } from '../../src/cluster/key-pair';
import { API_CERT_FILE, API_SEALED_KEY_FILE } from '../../src/store/state-files';
import { openSealer, openSqliteStore } from '../../src/store';
import { repoRoot } from '../helpers/paths';
import forge from 'node-forge';

const workload = join(repoRoot, 'dist/test/cluster/fixtures/private-key-workload.js');

/** What would give a private key away: its PEM lines past the public modulus, DER bytes. */
function needles(name: string, pem: string): Map<string, Buffer> {
  const lines = pem.split('\n').filter((l) => /^[A-Za-z0-9+/]{64}$/.test(l));
  const der = Buffer.from(lines.join(''), 'base64');
  const secret = der.subarray(400, 432); // inside the private exponent of an RSA-2048 key
  const found = new Map<string, Buffer>();
  lines.slice(6).forEach((line, i) => found.set(`${name} PEM line ${i + 7}`, Buffer.from(line)));
  found.set(`${name} DER bytes`, secret);
  found.set(`${name} DER hex`, Buffer.from(secret.toString('hex')));
  found.set(`${name} DER HEX`, Buffer.from(secret.toString('hex').toUpperCase()));
  return found;
}

/** The names of the needles found in the writable memory of process `pid`. */
function scanMemory(pid: number, search: Map<string, Buffer>): string[] {
  const hits = new Set<string>();
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const overlap = Math.max(...[...search.values()].map((n) => n.length));
  const chunk = Buffer.alloc(16 * 1024 * 1024 + overlap);
  try {
    for (const line of maps) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) rw/.exec(line);
      if (!m) continue;
      const start = parseInt(m[1], 16);
      const end = parseInt(m[2], 16);
      for (let at = start; at < end; at += chunk.length - overlap) {
        const want = Math.min(chunk.length, end - at);
        let got: number;
        try {
          got = readSync(fd, chunk, 0, want, at);
        } catch {
          break; // a mapping that cannot be read (guard pages)
        }
        const view = chunk.subarray(0, got);
        for (const [name, needle] of search) if (view.includes(needle)) hits.add(name);
      }
    }
  } finally {
    closeSync(fd);
  }
  return [...hits].sort();
}

t.test('no copy of the private keys survives their creation and a CSR', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'ekmd-keymem-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [workload, stateDir], { stdio: 'pipe' });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`workload exited ${code}: ${err}`)));
  });
  t.match(out, /^ready \d{3,}/, 'the CSR was made');

  // The keys themselves, unsealed here (in the test's own process) to know what to look for.
  const store = openSqliteStore(join(stateDir, 'ekmd.db'), { readonly: true });
  const sealer = openSealer({ stateDir, create: false });
  const clusterPem = new ClusterKeyPair(store, sealer).withPrivateKeyPem((p) => p.toString());
  await store.close();
  const apiPem = sealer
    .unseal(readFileSync(join(stateDir, API_SEALED_KEY_FILE)), API_SEAL_LABEL)
    .toString();
  t.match(clusterPem, /^-----BEGIN PRIVATE KEY-----\n/);
  t.match(apiPem, /^-----BEGIN PRIVATE KEY-----\n/);
  // Signed by crypto.sign with the KeyObject: both signatures verify.
  const csr = forge.pki.certificationRequestFromPem(
    readFileSync(join(stateDir, 'cluster.csr'), 'utf8'),
  );
  t.ok(csr.verify(), 'the CSR is signed by its key');
  t.same(csr.subject.getField('CN').value, 'node');
  const cert = new X509Certificate(readFileSync(join(stateDir, API_CERT_FILE)));
  t.ok(cert.verify(cert.publicKey), 'the self-signed certificate verifies');
  t.ok(cert.checkPrivateKey(createPrivateKey(apiPem)), 'and matches the sealed key');
  const search = new Map([...needles('cluster key', clusterPem), ...needles('API key', apiPem)]);

  const snapshot = readFileSync(join(stateDir, 'after-keys.heapsnapshot'), 'latin1');
  t.ok(snapshot.length > 1_000_000, 'a heap snapshot was written');
  const inSnapshot = [...search]
    .filter(([name, needle]) => !name.endsWith('bytes') && snapshot.includes(needle.toString()))
    .map(([name]) => name);
  t.same(inSnapshot, [], 'the heap snapshot holds no copy of either key');

  let inMemory: string[] | undefined;
  try {
    inMemory = scanMemory(child.pid!, search);
  } catch (e) {
    t.comment(`process memory not readable here: ${(e as Error).message}`);
  }
  if (inMemory) {
    // The check can find: the test's own process still holds the PEM strings.
    t.ok(scanMemory(process.pid, search).length > 0, 'the scan finds a key where one is');
    t.same(inMemory, [], "the workload's memory holds no copy of either key");
  }
  child.stdin.end();
  t.equal(await new Promise((resolve) => child.once('exit', resolve)), 0, err);
});
