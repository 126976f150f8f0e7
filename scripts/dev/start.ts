// The embedded default (`npm start`): ekmd with ekmd-sim's drives and the dev key server,
// all on loopback, state in .state/ at the repository root. Every start is a node boot:
// the drives are power-cycled first. The first start sets the cluster up through the
// public API (resumable: each step looks at what already exists). Development only.
//
//   node dist/scripts/dev/start.js [--state DIR] [--port N]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import forge from 'node-forge';
import { prettyFactory } from 'pino-pretty';
import { API_CERT_FILE } from '../../src/store/state-files';
import { SimConnection } from '../../src/opal/sim-socket/connection';
import { makeDevPki } from '../pki/dev-pki';
import { bins, layout, lockState, stateDirFrom } from './common';

const USAGE = `Usage: node dist/scripts/dev/start.js [--state DIR] [--port N] [--logs pretty|off]

Runs ekmd with 4 simulated drives (ekmd-sim) and the development key server, on loopback
only. The first start creates the cluster and enables encryption at rest with keys at the
dev key server; every start power-cycles the drives first (a node boot).
  --state DIR   state directory (default .state/ at the repository root)
  --port N      API port on 127.0.0.1 (default 8443)
  --logs pretty|off
                ekmd's log pretty-printed here (default on a terminal) or not; its
                JSON lines are always kept in the state directory's logs/ekmd.log
`;

const KEY_SERVER_NAME = 'ekmd-dev-kmip';
const KEY_PROVIDER_NAME = 'ekmd-dev';
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

class StartError extends Error {}

interface Admin {
  username: string;
  password: string;
}

interface Child {
  name: string;
  proc: ChildProcess;
  log: string;
  exited: Promise<void>;
}

/** The three children; stopping them is the one way out once any has started. */
class Children {
  readonly list: Child[] = [];
  stopping = false;
  private failure: ((err: Error) => void) | undefined;
  /** Rejects when a child dies while we are not stopping. */
  readonly died = new Promise<never>((_, reject) => (this.failure = reject));

  constructor(private readonly logs: string) {
    this.died.catch(() => {});
  }

  start(
    name: string,
    args: string[],
    echo?: (chunk: Buffer) => void,
  ): { child: Child; out: () => string } {
    const logPath = join(this.logs, `${name}.log`);
    const log: WriteStream = createWriteStream(logPath, { flags: 'a', mode: 0o600 });
    // Own process group: a terminal's Ctrl-C reaches only us; we stop them in order.
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    const take = (c: Buffer) => {
      if (out.length < 1 << 20) out += c.toString();
      log.write(c);
    };
    proc.stdout!.on('data', take);
    proc.stderr!.on('data', take);
    if (echo) proc.stdout!.on('data', echo);
    const exited = new Promise<void>((resolve) => {
      proc.once('close', (code, signal) => {
        log.end();
        if (!this.stopping) {
          const how = signal ? `signal ${signal}` : `code ${code}`;
          const tail = out.trim().split('\n').slice(-5).join('\n  ');
          this.failure?.(
            new StartError(
              `${name} exited unexpectedly (${how}); its log: ${logPath}${tail ? `\n  ${tail}` : ''}`,
            ),
          );
        }
        resolve();
      });
      proc.once('error', (err) => {
        this.failure?.(new StartError(`${name} could not be started: ${err.message}`));
        resolve();
      });
    });
    const child = { name, proc, log: logPath, exited };
    this.list.push(child);
    say(`started ${name} (pid ${proc.pid}), log ${logPath}`);
    return { child, out: () => out };
  }

  /** SIGTERM each (ekmd first, then the ones it uses), wait, SIGKILL after 10 s. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const c of [...this.list].reverse()) {
      if (c.proc.exitCode !== null || c.proc.signalCode !== null) {
        await c.exited;
        continue;
      }
      c.proc.kill('SIGTERM');
      const timer = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
      await c.exited;
      clearTimeout(timer);
    }
  }
}

/** Waits until `out()` matches `re` (checked as output arrives), or the child dies. */
function waitFor(
  children: Children,
  c: { child: Child; out: () => string },
  re: RegExp,
  what: string,
  ms = 60_000,
): Promise<RegExpExecArray> {
  return Promise.race([
    children.died,
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(
          new StartError(`${c.child.name} not ${what} after ${ms / 1000} s; see ${c.child.log}`),
        );
      }, ms);
      const look = () => {
        const m = re.exec(c.out());
        if (m) {
          done();
          resolve(m);
        }
      };
      const done = () => {
        clearTimeout(timer);
        c.child.proc.stdout!.off('data', look);
        c.child.proc.stderr!.off('data', look);
      };
      c.child.proc.stdout!.on('data', look);
      c.child.proc.stderr!.on('data', look);
      look();
    }),
  ]);
}

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out }));
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function writeJson(path: string, value: unknown, mode: number): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode, flag: 'w' });
}

/** Made once: a random password, never printed. */
function adminCredentials(path: string): Admin {
  if (!existsSync(path)) {
    const admin: Admin = { username: 'admin', password: randomBytes(18).toString('base64url') };
    writeFileSync(`${path}.tmp`, `${JSON.stringify(admin, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    return admin;
  }
  const admin = JSON.parse(readFileSync(path, 'utf8')) as Admin;
  if (typeof admin.username !== 'string' || typeof admin.password !== 'string')
    throw new StartError(`${path} is not {"username","password"}; npm run reset to start over`);
  return admin;
}

interface RpcError {
  name: string;
  message: string;
}

class Api {
  private nextId = 0;
  constructor(
    private readonly port: number,
    private readonly ca: string,
    private readonly admin: Admin,
  ) {}

  call(
    method: string,
    params: object = {},
  ): Promise<{ result?: Record<string, any>; error?: RpcError }> {
    const body = JSON.stringify({ method, id: this.nextId++, params });
    const auth = Buffer.from(`${this.admin.username}:${this.admin.password}`).toString('base64');
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: '/json-rpc/12.3',
          method: 'POST',
          ca: this.ca,
          agent: false,
          headers: { authorization: `Basic ${auth}` },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new StartError(`${method}: HTTP ${res.statusCode}, not JSON-RPC`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async ok(method: string, params: object = {}): Promise<Record<string, any>> {
    const r = await this.call(method, params);
    if (!r.result) throw new StartError(`${method}: ${r.error?.name}: ${r.error?.message}`);
    return r.result;
  }
}

/** Signs the cluster's CSR with the dev CA, for TLS client authentication. */
function signCsr(caCertPem: string, caKeyPem: string, csrPem: string): string {
  const ca = forge.pki.certificateFromPem(caCertPem);
  const caKey = forge.pki.privateKeyFromPem(caKeyPem);
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  if (!csr.verify()) throw new StartError('the cluster CSR does not verify');
  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey as forge.pki.PublicKey;
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  cert.setSubject(csr.subject.attributes);
  cert.setIssuer(ca.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * pino JSON lines in, one pretty line per record out (pino-pretty, colour on a terminal);
 * lines that are not JSON pass through unchanged. Chunks may split lines: the tail waits.
 */
export function prettyLines(
  write: (text: string) => void,
  colorize: boolean,
): (chunk: Buffer) => void {
  const pretty = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    messageFormat: '{if component}{component}: {end}{msg}',
    singleLine: true,
  });
  let rest = '';
  return (chunk) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      let text: string;
      try {
        text = line.startsWith('{') ? pretty(line) : `${line}\n`;
      } catch {
        text = `${line}\n`;
      }
      write(text);
    }
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The first start's setup, each step skipped when the API shows it done. */
async function setUp(
  api: Api,
  admin: Admin,
  files: { ca: string; caKey: string },
  kmipPort: number,
): Promise<void> {
  const info = await api.call('GetClusterInfo');
  if (info.error?.name === 'xClusterNotCreated') {
    say('setup: CreateCluster');
    await api.ok('CreateCluster', {
      acceptEula: true,
      mvip: '127.0.0.1',
      svip: '127.0.0.1',
      nodes: ['127.0.0.1'],
      username: admin.username,
      password: admin.password,
    });
  } else if (info.error) {
    throw new StartError(`GetClusterInfo: ${info.error.name}: ${info.error.message}`);
  }
  let csr = (await api.call('GetClientCertificateSignRequest')).result
    ?.clientCertificateSignRequest as string | undefined;
  if (!csr) {
    say('setup: CreatePublicPrivateKeyPair');
    await api.ok('CreatePublicPrivateKeyPair', { commonName: 'ekmd-dev-node' });
    csr = (await api.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest as string;
  }
  const servers = (await api.ok('ListKeyServersKmip')).kmipKeyServers as Record<string, any>[];
  let server = servers.find((s) => s.kmipKeyServerName === KEY_SERVER_NAME);
  if (!server) {
    say('setup: GetClientCertificateSignRequest, CSR signed by the dev CA, CreateKeyServerKmip');
    const caPem = readFileSync(files.ca, 'utf8');
    server = (
      await api.ok('CreateKeyServerKmip', {
        kmipCaCertificate: caPem,
        kmipClientCertificate: signCsr(caPem, readFileSync(files.caKey, 'utf8'), csr),
        kmipKeyServerHostnames: ['127.0.0.1'],
        kmipKeyServerName: KEY_SERVER_NAME,
        kmipKeyServerPort: kmipPort,
      })
    ).kmipKeyServer as Record<string, any>;
  }
  const providers = (await api.ok('ListKeyProvidersKmip')).kmipKeyProviders as Record<
    string,
    any
  >[];
  let provider = providers.find((p) => p.keyProviderName === KEY_PROVIDER_NAME);
  if (!provider) {
    say('setup: CreateKeyProviderKmip');
    provider = (await api.ok('CreateKeyProviderKmip', { keyProviderName: KEY_PROVIDER_NAME }))
      .kmipKeyProvider as Record<string, any>;
  }
  const keyProviderID = provider.keyProviderID as number;
  if (server.keyProviderID !== keyProviderID) {
    say('setup: AddKeyServerToProviderKmip');
    await api.ok('AddKeyServerToProviderKmip', {
      keyProviderID,
      keyServerID: server.keyServerID,
    });
  }
  let state = (await api.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string;
  if (state === 'disabled') {
    say(`setup: EnableEncryptionAtRest with key provider ${keyProviderID}`);
    await api.ok('EnableEncryptionAtRest', { keyProviderID });
  }
  const deadline = Date.now() + 120_000;
  while (state !== 'enabled') {
    if (state !== 'enabling' && state !== 'disabled')
      throw new StartError(`encryptionAtRestState is ${state}; npm run reset to start over`);
    if (Date.now() > deadline)
      throw new StartError(`encryptionAtRestState still ${state} after 120 s`);
    await sleep(100);
    state = (await api.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string;
  }
  say('setup: encryption at rest enabled');
}

/** Points the key server at this start's dev key server port when it moved. */
async function followKmipPort(api: Api, kmipPort: number): Promise<void> {
  const servers = (await api.ok('ListKeyServersKmip')).kmipKeyServers as Record<string, any>[];
  const server = servers.find((s) => s.kmipKeyServerName === KEY_SERVER_NAME);
  if (server && server.kmipKeyServerPort !== kmipPort) {
    await api.ok('ModifyKeyServerKmip', {
      keyServerID: server.keyServerID,
      kmipKeyServerPort: kmipPort,
    });
    say(`key server ${server.keyServerID} now at port ${kmipPort}`);
  }
}

async function simLockStates(socket: string): Promise<Map<string, boolean>> {
  const conn = new SimConnection(socket);
  try {
    const r = await conn.request({ op: 'status' });
    const drives = r.header.drives as { serial: string; locked: boolean; plugged: boolean }[];
    return new Map(drives.filter((d) => d.plugged).map((d) => [d.serial, d.locked]));
  } finally {
    await conn.close();
  }
}

/** Waits for boot unlock (every drive holding an AK unlocked) up to UNLOCK_WAIT_MS. */
const UNLOCK_WAIT_MS = 30_000;

async function report(
  api: Api,
  simSocket: string,
  kmipPort: number,
  booted: number,
): Promise<void> {
  const drives = (await api.ok('ListDrives')).drives as Record<string, any>[];
  const ear = (await api.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string;
  const keyed = drives.filter((d) => typeof d.keyID === 'string' && d.keyProviderID !== undefined);
  let locks = await simLockStates(simSocket);
  const stillLocked = () => keyed.filter((d) => locks.get(d.serial) !== false).length;
  const deadline = Date.now() + UNLOCK_WAIT_MS;
  while (stillLocked() > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    locks = await simLockStates(simSocket);
  }
  const unlockedAt = Date.now();
  for (const d of drives) {
    const lock = locks.get(d.serial);
    const fault =
      d.driveSecurityFaultReason !== 'none' ? `  fault: ${d.driveSecurityFaultReason}` : '';
    say(
      `drive ${d.driveID}  slot ${d.slot}  serial ${d.serial}  ${d.status}  ` +
        `${keyed.includes(d) ? `AK at key provider ${d.keyProviderID}` : 'no AK'}  ` +
        `${lock === undefined ? 'lock state unknown' : lock ? 'locked' : 'unlocked'}${fault}`,
    );
  }
  const n = drives.length;
  const kmip = `kmip://127.0.0.1:${kmipPort}`;
  say(`encryption at rest ${ear} on ${keyed.length}/${n} drives; keys at ${kmip}`);
  const locked = stillLocked();
  say(
    locked === 0
      ? `unlocked ${n - locked}/${n} drives in ${unlockedAt - booted} ms, keys from ${kmip}`
      : `${locked}/${n} drives still locked after ${UNLOCK_WAIT_MS / 1000} s: see ListClusterFaults`,
  );
}

async function main(): Promise<number> {
  let values: { state?: string; port?: string; logs?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        state: { type: 'string' },
        port: { type: 'string' },
        logs: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    process.stderr.write(`start: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = values.port === undefined ? 8443 : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`start: --port must be 1..65535\n`);
    return 2;
  }
  const logs = values.logs ?? (process.stdout.isTTY ? 'pretty' : 'off');
  if (logs !== 'pretty' && logs !== 'off') {
    process.stderr.write(`start: --logs must be pretty or off\n`);
    return 2;
  }
  const L = layout(stateDirFrom(values.state));
  mkdirSync(L.state, { recursive: true, mode: 0o700 });
  if (!existsSync(L.marker)) writeFileSync(L.marker, 'ekmd development state (npm run reset)\n');
  const lock = lockState(L.state);
  if (!(await portFree(port))) {
    lock.release();
    throw new StartError(`127.0.0.1:${port} is busy (another ekmd?); choose another with --port N`);
  }
  mkdirSync(L.logs, { recursive: true, mode: 0o700 });
  say(`state in ${L.state}`);

  // 1. The dev PKI, once.
  const caKey = join(L.pki, 'ca-key.pem');
  if (!existsSync(caKey) || !existsSync(join(L.pki, 'server-key.pem'))) {
    await makeDevPki(L.pki);
    say(`made a development PKI in ${L.pki}`);
  }
  const pki = {
    ca: join(L.pki, 'ca.pem'),
    caKey,
    cert: join(L.pki, 'server.pem'),
    key: join(L.pki, 'server-key.pem'),
  };

  const children = new Children(L.logs);
  let stopSignal: string | undefined;
  const signalled = new Promise<string>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const)
      process.on(s, () => {
        stopSignal ??= s;
        resolve(s);
      });
  });
  const interrupted = signalled.then((s) => {
    throw new StartError(`${s} while starting`);
  });
  interrupted.catch(() => {});
  const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, children.died, interrupted]);

  try {
    // 2. The simulated drives, power-cycled: a start is a node boot.
    const sim = children.start('ekmd-sim', [
      bins.ekmdSim,
      'serve',
      '--state',
      L.sim,
      '--socket',
      L.simSocket,
      '--drives',
      '4',
      '--log-level',
      'warn',
    ]);
    await step(waitFor(children, sim, /ekmd-sim: serving/, 'serving'));
    const cycled = await step(run([bins.ekmdSim, 'power-cycle', '--socket', L.simSocket]));
    if (cycled.code !== 0) throw new StartError(`power-cycle failed: ${cycled.out.trim()}`);
    say('power-cycled all drives (node boot)');

    // 3. The dev key server.
    const kmip = children.start('kmip-dev-server', [
      bins.ekmctl,
      'kmip',
      'dev-server',
      '--state',
      L.kmip,
      '--listen',
      '127.0.0.1:0',
      '--ca',
      pki.ca,
      '--cert',
      pki.cert,
      '--key',
      pki.key,
      '--control',
      L.kmipControl,
    ]);
    const kmipPort = Number(
      (await step(waitFor(children, kmip, /listening on 127\.0\.0\.1:(\d+)/, 'listening')))[1],
    );

    // 4. Admin credentials (once), the config, ekmd.
    const admin = adminCredentials(L.admin);
    say(`admin credentials in ${L.admin}`);
    writeJson(
      L.config,
      {
        stateDir: L.ekmdState,
        api: { listen: `127.0.0.1:${port}` },
        admin,
        drives: { backend: 'sim', sim: { socket: L.simSocket } },
        log: { level: 'info' },
      },
      0o600,
    );
    const booted = Date.now(); // the node boot: ekmd starts, drives are locked
    const ekmd = children.start(
      'ekmd',
      [bins.ekmd, '--config', L.config],
      logs === 'pretty'
        ? prettyLines((text) => process.stdout.write(text), process.stdout.isTTY === true)
        : undefined,
    );
    await step(waitFor(children, ekmd, /"msg":"ekmd ready"/, 'ready'));
    const api = new Api(port, readFileSync(join(L.ekmdState, API_CERT_FILE), 'utf8'), admin);
    say(`ekmd API at https://127.0.0.1:${port}/json-rpc/12.3`);

    // 5. The first start's setup, resumable; later starts only follow the key server's port.
    if (existsSync(L.setupDone)) {
      say('setup already done');
      await step(followKmipPort(api, kmipPort));
    } else {
      await step(followKmipPort(api, kmipPort));
      await step(setUp(api, admin, pki, kmipPort));
      writeJson(L.setupDone, { done: new Date().toISOString() }, 0o644);
    }

    // 6. What the API says about the drives.
    await step(report(api, L.simSocket, kmipPort, booted));
    say('running; Ctrl-C stops everything');

    // 7. Foreground until a signal or a child's death.
    await Promise.race([signalled, children.died]);
    say(`${stopSignal}: stopping`);
    await children.stopAll();
    lock.release();
    say('stopped');
    return 0;
  } catch (err) {
    const msg = err instanceof StartError ? err.message : String((err as Error).stack ?? err);
    process.stderr.write(`start: ${msg}\n`);
    await children.stopAll();
    lock.release();
    if (stopSignal) say('stopped');
    return stopSignal && /while starting$/.test(msg) ? 0 : 1;
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(
        `start: ${err instanceof StartError || err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
