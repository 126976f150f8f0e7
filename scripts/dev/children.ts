// The dev start's long-running children (ekmd-sim, the dev key server, ekmd): each spawned
// in its own process group with its output kept in the state directory's logs/, watched so
// that an unexpected exit fails the start, and stopped together in reverse order.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { say, StartError } from './common';

/** Output kept in memory per child, for waiting on a line and for the tail of a failure. */
const MAX_OUTPUT = 1 << 20;
/** How long a child has after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 10_000;

export interface Child {
  name: string;
  proc: ChildProcess;
  log: string;
  exited: Promise<void>;
  /** Its output so far (stdout and stderr, first MAX_OUTPUT characters). */
  output(): string;
}

export class Children {
  private readonly list: Child[] = [];
  private stopping = false;
  private failure: ((err: Error) => void) | undefined;
  /** Rejects when a child dies while we are not stopping. */
  readonly died = new Promise<never>((_, reject) => (this.failure = reject));

  constructor(private readonly logs: string) {
    this.died.catch(() => {});
  }

  /**
   * Spawns `node args…` with this environment and `env` added; `echo` also gets its stdout
   * as it arrives.
   */
  start(
    name: string,
    args: string[],
    echo?: (chunk: Buffer) => void,
    env: Record<string, string> = {},
  ): Child {
    const logPath = join(this.logs, `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a', mode: 0o600 });
    // Own process group: a terminal's Ctrl-C reaches only us; we stop them in order.
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...env },
    });
    let out = '';
    const take = (c: Buffer) => {
      if (out.length < MAX_OUTPUT) out += c.toString();
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
    const child = { name, proc, log: logPath, exited, output: () => out };
    this.list.push(child);
    say(`started ${name} (pid ${proc.pid}), log ${logPath}`);
    return child;
  }

  /** The first match of `re` in a child's output (checked as output arrives), or its death. */
  waitFor(child: Child, re: RegExp, what: string, ms = 60_000): Promise<RegExpExecArray> {
    const { stdout, stderr } = child.proc;
    return Promise.race([
      this.died,
      new Promise<RegExpExecArray>((resolve, reject) => {
        const timer = setTimeout(() => {
          done();
          reject(
            new StartError(`${child.name} not ${what} after ${ms / 1000} s; see ${child.log}`),
          );
        }, ms);
        const look = () => {
          const m = re.exec(child.output());
          if (m) {
            done();
            resolve(m);
          }
        };
        const done = () => {
          clearTimeout(timer);
          stdout!.off('data', look);
          stderr!.off('data', look);
        };
        stdout!.on('data', look);
        stderr!.on('data', look);
        look();
      }),
    ]);
  }

  /** SIGTERM each (ekmd first, then the ones it uses), wait, SIGKILL after the grace. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const c of [...this.list].reverse()) {
      if (c.proc.exitCode !== null || c.proc.signalCode !== null) {
        await c.exited;
        continue;
      }
      c.proc.kill('SIGTERM');
      const timer = setTimeout(() => c.proc.kill('SIGKILL'), STOP_GRACE_MS);
      await c.exited;
      clearTimeout(timer);
    }
  }
}
