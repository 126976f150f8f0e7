// A long-running ekmctl (faults list --follow) as a child process: its output as it
// comes, waiting for a line, and Ctrl-C.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { bin } from '../../helpers/paths';

export interface Follower {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern`; rejects after a generous guard. */
  waitFor(pattern: RegExp, guardMs?: number): Promise<RegExpExecArray>;
  /** Sends SIGINT (Ctrl-C) and resolves with the exit status. */
  interrupt(): Promise<number | null>;
}

export function follow(
  t: { teardown(fn: () => void): void },
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Follower {
  const child = spawn(process.execPath, [bin.ekmctl, ...args], { env, cwd: env.HOME! });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, guardMs = 30_000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const m = pattern.exec(out);
          if (!m) return;
          finish();
          resolve(m);
        };
        const guard = setTimeout(() => {
          finish();
          reject(new Error(`no ${pattern} in ekmctl output:\n${out}\n${err}`));
        }, guardMs);
        const finish = () => {
          clearTimeout(guard);
          child.stdout.off('data', look);
        };
        child.stdout.on('data', look);
        look();
      });
    },
    interrupt() {
      child.kill('SIGINT');
      return closed;
    },
  };
}
