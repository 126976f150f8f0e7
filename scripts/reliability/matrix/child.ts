// A child process of the fault matrix or the load runs: its output kept (bounded) for
// waiting on a line and for the evidence of a failed cell; stopped by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The compiled bins, relative to dist/scripts/reliability/matrix. */
export const BINS = {
  ekmd: join(__dirname, '../../../src/daemon/main.js'),
  ekmctl: join(__dirname, '../../../src/cli/main.js'),
  ekmdSim: join(__dirname, '../../../src/sim/main.js'),
};

const MAX_OUTPUT = 1 << 20;

export class Child {
  readonly proc: ChildProcess;
  private out = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const take = (c: Buffer) => {
      if (this.out.length < MAX_OUTPUT) this.out += c.toString();
    };
    this.proc.stdout!.on('data', take);
    this.proc.stderr!.on('data', take);
    this.exited = new Promise((resolve) =>
      this.proc.once('close', (code, signal) => resolve({ code, signal })),
    );
  }

  output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The first match of `re` in the output; rejects when the child exits or after `ms`. */
  waitFor(re: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        clearInterval(poll);
        fn();
      };
      const look = (): boolean => {
        const m = re.exec(this.out);
        if (m) done(() => resolve(m));
        return !!m;
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: no ${re} after ${ms} ms`))),
        ms,
      );
      const poll = setInterval(look, 20);
      if (look()) return;
      void this.exited.then(({ code, signal }) => {
        if (!look())
          done(() => reject(new Error(`${this.name} exited (${signal ?? code}): ${this.tail()}`)));
      });
    });
  }

  tail(lines = 3): string {
    return this.out.trim().split('\n').slice(-lines).join(' | ');
  }

  /** SIGTERM, SIGKILL after graceMs; resolves once it is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return void (await this.exited);
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill9(): Promise<void> {
    if (this.running) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** Runs a bin to completion: exit code and output. */
export function runBin(
  bin: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out }));
    p.stdin.end(stdin ?? '');
  });
}
