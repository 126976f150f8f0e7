// A fault-matrix cell: a scenario that injects one fault, checks it is raised, removes
// the cause, checks the resolution and the invariants, and says what it saw.
import type { DevPki } from '../../pki/dev-pki';
import type { PykmipServer } from '../../pykmip/pykmip-server';

export interface CellResult {
  cell: string;
  expected: string;
  observed: string;
  pass: boolean;
  /** Why it could not run here (e.g. not root); pass is then false and not a finding. */
  skipped?: string;
  ms: number;
}

export interface CellContext {
  /** A fresh directory of this cell. */
  dir: string;
  /** The dev PKI, shared by the cells. */
  pki: DevPki;
  /** The run's one PyKMIP server, started on first use. */
  pykmip(): Promise<PykmipServer>;
}

export interface Cell {
  name: string;
  /** What the code is expected to do, and what the expectation relies on. */
  expected: string;
  eks: 'dev' | 'pykmip';
  /** Part of the CI subset. */
  ci: boolean;
  run(ctx: CellContext, seen: Observations): Promise<void>;
}

/** Thrown by a cell that cannot run in this environment. */
export class CellSkipped extends Error {}

/** What a cell saw, step by step; it passes when every expectation held. */
export class Observations {
  readonly notes: string[] = [];
  ok = true;
  private readonly cleanups: (() => unknown)[] = [];

  /** Runs after the cell, last registered first, whatever happened. */
  teardown(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // A cleanup failing must not hide the cell's result or stop the others.
      }
    }
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** Records `text` when `cond` holds, `FAILED: text (detail)` otherwise. */
  expect(cond: boolean, text: string, detail = ''): boolean {
    if (cond) this.notes.push(text);
    else {
      this.ok = false;
      this.notes.push(`FAILED: ${text}${detail ? ` (${detail})` : ''}`);
    }
    return cond;
  }

  /** Awaits `step`; a rejection is a failed expectation and ends the cell. */
  async step<T>(text: string, step: Promise<T>): Promise<T> {
    try {
      const v = await step;
      this.notes.push(text);
      return v;
    } catch (err) {
      this.expect(false, text, (err as Error).message.slice(0, 300));
      throw new StepFailed();
    }
  }

  /** Like step, but a rejection is recorded and the cell goes on: undefined. */
  async attempt<T>(text: string, step: Promise<T>): Promise<T | undefined> {
    try {
      const v = await step;
      this.notes.push(text);
      return v;
    } catch (err) {
      this.expect(false, text, (err as Error).message.slice(0, 300));
      return undefined;
    }
  }

  toString(): string {
    return this.notes.join('; ');
  }
}

export class StepFailed extends Error {}
