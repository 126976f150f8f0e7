// Start and stop a PyKMIP server (Debian's python3-pykmip) on 127.0.0.1 as a real KMIP
// peer for tests and benchmarks. Every path it uses (config, log, sqlite database, policy
// directory) lives in the given state directory: PyKMIP's defaults are shared system-wide.
//
//   node dist/scripts/pykmip/pykmip-server.js up DIR --pki PKIDIR [--port N]
//   node dist/scripts/pykmip/pykmip-server.js down DIR
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { freePorts } from '../net/free-ports';

/** Debian's interpreter: one earlier in PATH (pyenv, venv) does not see the kmip module. */
const PYTHON = '/usr/bin/python3';
const HOST = '127.0.0.1';

export interface PykmipPki {
  ca: string;
  server: { cert: string; key: string };
  /** Used to probe readiness with a mutual-TLS handshake. */
  client: { cert: string; key: string };
}

export interface PykmipOptions {
  /** State directory (created): server.conf, server.log, pykmip.db, policies/. */
  dir: string;
  pki: PykmipPki;
  /** 0 or absent: a free port. A busy port is refused. */
  port?: number;
  /** Give up waiting for the first handshake after this long. */
  startTimeoutMs?: number;
  /** false: the server ignores clientAuth in the client's extendedKeyUsage. */
  enforceClientAuth?: boolean;
}

export interface PykmipServer {
  host: string;
  port: number;
  pid: number;
  /** SIGTERM to the process group, SIGKILL after graceMs (PyKMIP takes 4-10 s to stop). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * An operation policy letting every identity read (Get, Locate, Get Attributes) objects
 * created with Operation Policy Name "shared"; changes stay owner-only.
 */
const sharedPolicy = (): object => {
  const rules = {
    GET: 'ALLOW_ALL',
    LOCATE: 'ALLOW_ALL',
    GET_ATTRIBUTES: 'ALLOW_ALL',
    GET_ATTRIBUTE_LIST: 'ALLOW_ALL',
    ACTIVATE: 'ALLOW_OWNER',
    REVOKE: 'ALLOW_OWNER',
    DESTROY: 'ALLOW_OWNER',
  };
  return { shared: { preset: { SECRET_DATA: rules, SYMMETRIC_KEY: rules } } };
};

async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

function handshake(port: number, pki: PykmipPki): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({
      host: HOST,
      port,
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.client.cert),
      key: readFileSync(pki.client.key),
      timeout: 1000,
    });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('secureConnect', () => done(true));
    sock.once('error', () => done(false));
    sock.once('timeout', () => done(false));
  });
}

function writeConfig(dir: string, port: number, opts: PykmipOptions): string {
  const policies = join(dir, 'policies');
  mkdirSync(policies, { recursive: true });
  writeFileSync(join(policies, 'shared.json'), JSON.stringify(sharedPolicy(), null, 2));
  const conf = join(dir, 'server.conf');
  writeFileSync(
    conf,
    [
      '[server]',
      `hostname=${HOST}`,
      `port=${port}`,
      `certificate_path=${opts.pki.server.cert}`,
      `key_path=${opts.pki.server.key}`,
      `ca_path=${opts.pki.ca}`,
      // 'Basic' means TLS 1.0, which OpenSSL 3 refuses.
      'auth_suite=TLS1.2',
      `policy_path=${policies}`,
      `enable_tls_client_auth=${opts.enforceClientAuth === false ? 'False' : 'True'}`,
      'logging_level=INFO',
      `database_path=${join(dir, 'pykmip.db')}`,
      '',
    ].join('\n'),
  );
  return conf;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Start PyKMIP and resolve once a mutual-TLS handshake succeeds (2-3 s). */
export async function startPykmip(opts: PykmipOptions): Promise<PykmipServer> {
  mkdirSync(opts.dir, { recursive: true });
  let port = opts.port ?? 0;
  if (port === 0) port = await freePort();
  else if (!(await portIsFree(port))) throw new Error(`port ${port} on ${HOST} is busy`);
  const conf = writeConfig(opts.dir, port, opts);
  const out = openSync(join(opts.dir, 'stdout.log'), 'a');
  const child = spawn(
    PYTHON,
    [
      '-c',
      'from kmip.services.server.server import main; main()',
      '-f',
      conf,
      '-l',
      join(opts.dir, 'server.log'),
    ],
    { cwd: opts.dir, detached: true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${PYTHON}`);
  writeFileSync(join(opts.dir, 'pid'), `${pid}\n`);
  const stop = async (graceMs = 10_000): Promise<void> => {
    const gone = exited(child);
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
    rmSync(join(opts.dir, 'pid'), { force: true });
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await handshake(port, opts.pki)) return { host: HOST, port, pid, stop };
    await new Promise((r) => setTimeout(r, 150));
  }
  await stop(0);
  const log = join(opts.dir, 'stdout.log');
  throw new Error(`PyKMIP did not accept a handshake on ${HOST}:${port}; see ${log}`);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, dir, ...rest] = argv;
  const flag = (name: string): string | undefined => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  if (cmd === 'up' && dir && flag('--pki')) {
    const pkiDir = flag('--pki')!;
    const pki: PykmipPki = {
      ca: join(pkiDir, 'ca.pem'),
      server: { cert: join(pkiDir, 'server.pem'), key: join(pkiDir, 'server-key.pem') },
      client: { cert: join(pkiDir, 'client.pem'), key: join(pkiDir, 'client-key.pem') },
    };
    const srv = await startPykmip({ dir, pki, port: Number(flag('--port') ?? 0) });
    process.stdout.write(`${srv.host}:${srv.port} pid ${srv.pid}\n`);
    // Leave it running: `down DIR` stops it through DIR/pid.
    process.exit(0);
  }
  if (cmd === 'down' && dir) {
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + 12_000;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        rmSync(join(dir, 'pid'), { force: true });
        return 0;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    signalGroup(pid, 'SIGKILL');
    rmSync(join(dir, 'pid'), { force: true });
    return 0;
  }
  process.stderr.write('usage: pykmip-server up DIR --pki PKIDIR [--port N] | down DIR\n');
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`pykmip-server: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
