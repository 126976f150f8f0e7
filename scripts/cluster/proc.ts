// One long-running child of the cluster harness (ekmd, ekmd-sim, the dev key server): a
// node script in its own process group, its output appended to a log file and kept in
// memory for waiting on a line, guarded by the watchdog so that it dies with us however we
// die. Killing it (kill -9 in a failover test) is not a failure: whoever runs it decides.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { guardPid, releasePid } from './watchdog';

/** Output kept in memory per child (its log file has all of it). */
const MAX_OUTPUT = 4 << 20;
/** How long a child has after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 10_000;

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class ProcExitedError extends Error {}

export class Proc {
  readonly child: ChildProcess;
  /** Resolves with how it ended ("code 0", "signal SIGKILL"). */
  readonly exited: Promise<string>;
  private out = '';

  constructor(
    readonly name: string,
    readonly log: string,
    args: string[],
    env: Record<string, string> = {},
    /** Also given its stdout as it arrives (the dev command's pretty log). */
    echo?: (chunk: Buffer) => void,
  ) {
    const file = createWriteStream(log, { flags: 'a', mode: 0o600 });
    // Own process group: a terminal's Ctrl-C reaches only the harness, which stops us.
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...env },
    });
    this.child = child;
    running.add(child);
    guardPid(child.pid);
    const take = (c: Buffer) => {
      if (this.out.length < MAX_OUTPUT) this.out += c.toString();
      file.write(c);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    if (echo) child.stdout!.on('data', echo);
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        running.delete(child);
        releasePid(child.pid);
        file.end();
        resolve(signal ? `signal ${signal}` : `code ${code}`);
      });
      child.once('error', (err) => {
        running.delete(child);
        file.end();
        resolve(`not started: ${err.message}`);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Its output so far (stdout and stderr). */
  output(): string {
    return this.out;
  }

  /** The last lines of its output, for an error message. */
  tail(lines = 8): string {
    return this.out.trim().split('\n').slice(-lines).join('\n  ');
  }

  /**
   * The first match of `re` in its output from `from` on (checked as output arrives);
   * rejects when it exits first or after `ms`.
   */
  waitFor(re: RegExp, what: string, ms = 60_000, from = 0): Promise<RegExpExecArray> {
    const { stdout, stderr } = this.child;
    return new Promise<RegExpExecArray>((resolve, reject) => {
      const look = () => {
        const m = re.exec(this.out.slice(from));
        if (m) {
          done();
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new ProcExitedError(`${this.name} not ${what} after ${ms / 1000} s; see ${this.log}`),
        );
      }, ms);
      const done = () => {
        clearTimeout(timer);
        stdout!.off('data', look);
        stderr!.off('data', look);
      };
      stdout!.on('data', look);
      stderr!.on('data', look);
      void this.exited.then((how) => {
        look();
        done();
        reject(
          new ProcExitedError(
            `${this.name} exited (${how}) before ${what}; its log: ${this.log}\n  ${this.tail()}`,
          ),
        );
      });
      look();
    });
  }

  /** kill -9, as a power loss would; resolves once it is gone. */
  async kill9(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, SIGKILL after the grace; resolves once it is gone. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (!this.alive) {
      await this.exited;
      return;
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
