// Run `ekmctl kmip dev-server` as its own process for tests; killed at teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import type { DevPki } from '../../../scripts/pki/dev-pki';
import { bin } from '../../helpers/paths';

export interface DevProcess {
  child: ChildProcess;
  port: number;
  stderr(): string;
}

export async function startDevProcess(
  t: Test,
  pki: DevPki,
  stateDir: string,
  extra: string[] = [],
  port = 0,
): Promise<DevProcess> {
  const child = spawn(
    process.execPath,
    [
      bin.ekmctl,
      'kmip',
      'dev-server',
      '--state',
      stateDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--ca',
      pki.ca,
      '--cert',
      pki.server.cert,
      '--key',
      pki.server.key,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const found = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec((out += d.toString()));
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`dev-server exited ${code}: ${err}`)));
  });
  return { child, port: found, stderr: () => err };
}

/** Send SIGKILL and wait for the exit. */
export function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
