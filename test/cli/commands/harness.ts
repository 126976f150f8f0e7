// One real ekmd per test file and ekmctl run against it as an operator would: a private
// config directory, a password file, no credentials on the command line.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BOOTSTRAP,
  ready,
  runEkmd,
  workdir,
  type Ekmd,
  type Workdir,
} from '../../daemon/ekmd-process';
import { bin } from '../../helpers/paths';

export { BOOTSTRAP };

export interface Daemon {
  work: Workdir;
  ekmd: Ekmd;
  url: string;
  /** SHA-256 of the certificate it serves, as ekmctl --fingerprint takes it. */
  fingerprint: string;
}

type Teardown = { teardown(fn: () => void): void };

/**
 * Starts ekmd. `selfSigned`: let it make its own certificate in stateDir (the pinning
 * case); otherwise it serves the openssl-made api.crt (for --ca).
 */
export async function startDaemon(t: Teardown, selfSigned: boolean): Promise<Daemon> {
  const work = workdir(t, selfSigned ? { api: { listen: '127.0.0.1:0' } } : {});
  const ekmd = runEkmd(t, work.config);
  const port = await ready(ekmd);
  const cert = selfSigned ? join(work.stateDir, 'api-tls.crt') : join(work.dir, 'api.crt');
  const { fingerprint256 } = new X509Certificate(readFileSync(cert));
  return { work, ekmd, url: `https://127.0.0.1:${port}`, fingerprint: fingerprint256 };
}

export interface Operator {
  /** XDG_CONFIG_HOME of this operator: ekmctl/config.json and the pins live under it. */
  configHome: string;
  env: NodeJS.ProcessEnv;
  passwordFile(password: string): string;
}

/** A fresh home for an operator; nothing of the caller's environment leaks in. */
export function operator(t: Teardown): Operator {
  const home = mkdtempSync(join(tmpdir(), 'ekmctl-home-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  let n = 0;
  return {
    configHome: join(home, '.config'),
    env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config') },
    passwordFile(password) {
      const file = join(home, `password-${++n}`);
      writeFileSync(file, `${password}\n`, { mode: 0o600 });
      return file;
    },
  };
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs ekmctl without blocking the event loop (ekmd's output keeps flowing), in the
 * operator's home (a dev daemon's .state/ in the caller's directory must not be found).
 */
export function ekmctl(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin.ekmctl, ...args], { env, cwd: env.HOME! });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * The connection flags for `user`, password through a file, the daemon's certificate
 * vouched for by --fingerprint (as an operator who checked it on the node).
 */
export function login(d: Daemon, op: Operator, user = BOOTSTRAP): string[] {
  return [...credentials(d, op, user), '--fingerprint', d.fingerprint];
}

/** The same with nothing vouching for the certificate: first-contact rules apply. */
export function credentials(d: Daemon, op: Operator, user = BOOTSTRAP): string[] {
  return [
    '--url',
    d.url,
    '--username',
    user.username,
    '--password-file',
    op.passwordFile(user.password),
  ];
}
