// Runs the compiled ekmd as a real process for a test, with a config written to a fresh
// directory, a fast EC API certificate made by openssl, and its log lines collected.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin } from '../helpers/paths';
import { testStoreSetting } from '../helpers/test-store';

export const BOOTSTRAP = { username: 'bootstrap', password: 'bootstrap-pw-S3CRET' };

export interface Workdir {
  dir: string;
  stateDir: string;
  config: string;
  ca: string;
}

export function workdir(t: { teardown(fn: () => void): void }, extra: object = {}): Workdir {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-main-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
      .concat(['-keyout', 'api.key', '-out', 'api.crt', '-days', '2', '-subj', '/CN=localhost'])
      .concat(['-addext', 'subjectAltName=IP:127.0.0.1']),
    { cwd: dir, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  const config = {
    stateDir: 'state',
    api: { listen: '127.0.0.1:0', tls: { cert: 'api.crt', key: 'api.key' } },
    admin: BOOTSTRAP,
    drives: { backend: 'sim', sim: { socket: 'sim.sock' } },
    ...extra,
  };
  // 0600: ekmd refuses a config holding a password that others can read.
  writeFileSync(join(dir, 'ekmd.json'), JSON.stringify(config), { mode: 0o600 });
  return {
    dir,
    stateDir: join(dir, 'state'),
    config: join(dir, 'ekmd.json'),
    ca: readFileSync(join(dir, 'api.crt'), 'utf8'),
  };
}

/**
 * workdir() on the backend this suite runs on: with EKMD_TEST_STORE=etcd the config's
 * `store` names a prefix of its own on the suite's etcd member (test/helpers/test-store).
 */
export async function testWorkdir(
  t: { teardown(fn: () => void): void },
  extra: object = {},
): Promise<Workdir> {
  const work = workdir(t, extra);
  const store = await testStoreSetting(work.stateDir);
  if (store) {
    const config = JSON.parse(readFileSync(work.config, 'utf8')) as object;
    writeFileSync(work.config, JSON.stringify({ ...config, store }), { mode: 0o600 });
  }
  return work;
}

export interface Ekmd {
  child: ChildProcessWithoutNullStreams;
  /** Every stdout and stderr byte so far. */
  output(): string;
  exited: Promise<number | null>;
}

/** `wrap`: a command ekmd runs under (setpriv and its options, which exec node). */
export function runEkmd(
  t: { teardown(fn: () => void): void },
  config: string,
  wrap: string[] = [],
): Ekmd {
  const [command, ...args] = [...wrap, process.execPath, bin.ekmd, '--config', config];
  const child = spawn(command, args);
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return { child, output: () => out, exited };
}

/** Resolves with the API port once ekmd logs "ekmd ready"; rejects if it exits first. */
export function ready(ekmd: Ekmd): Promise<number> {
  return new Promise((resolve, reject) => {
    const look = () => {
      const line = ekmd
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"ekmd ready"'));
      if (line) {
        ekmd.child.stdout.off('data', look);
        resolve((JSON.parse(line) as { api: { port: number } }).api.port);
      }
    };
    ekmd.child.stdout.on('data', look);
    void ekmd.exited.then((code) => reject(new Error(`ekmd exited ${code}: ${ekmd.output()}`)));
  });
}

/** One JSON-RPC call the way the SolidFire SDK makes it: Basic auth, no Content-Type. */
export function rpc(
  port: number,
  ca: string,
  auth: { username: string; password: string },
  method: string,
  params: object = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/json-rpc/12.3',
        method: 'POST',
        ca,
        agent: false,
        headers: {
          authorization:
            'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64'),
        },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ method, params, id: 0 }));
  });
}
