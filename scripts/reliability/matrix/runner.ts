// Runs fault-matrix cells one after another (each in its own directory, every process it
// started stopped after it), with one dev PKI and at most one PyKMIP for the whole run.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki, type DevPki } from '../../pki/dev-pki';
import { startPykmip, type PykmipServer } from '../../pykmip/pykmip-server';
import {
  CellSkipped,
  Observations,
  StepFailed,
  type Cell,
  type CellContext,
  type CellResult,
} from './cell';

export interface MatrixOptions {
  /** Per cell, before it is failed as hung. */
  cellTimeoutMs?: number;
  /** Called after each cell (progress). */
  onResult?: (r: CellResult) => void;
}

/** A matrix run's shared parts; close() stops PyKMIP and removes the directory. */
export class MatrixRun {
  private pykmipServer: Promise<PykmipServer> | undefined;
  private n = 0;

  private constructor(
    readonly dir: string,
    readonly pki: DevPki,
  ) {}

  static async open(): Promise<MatrixRun> {
    const dir = mkdtempSync(join(tmpdir(), 'ekmd-matrix-'));
    return new MatrixRun(dir, await makeDevPki(join(dir, 'pki')));
  }

  pykmip(): Promise<PykmipServer> {
    this.pykmipServer ??= startPykmip({
      dir: join(this.dir, 'pykmip'),
      pki: { ca: this.pki.ca, server: this.pki.server, client: this.pki.client },
    });
    return this.pykmipServer;
  }

  async run(cell: Cell, opts: MatrixOptions = {}): Promise<CellResult> {
    const dir = join(this.dir, `cell-${++this.n}`);
    mkdirSync(dir);
    const ctx: CellContext = { dir, pki: this.pki, pykmip: () => this.pykmip() };
    const seen = new Observations();
    const started = Date.now();
    let skipped: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = opts.cellTimeoutMs ?? 120_000;
    try {
      await Promise.race([
        cell.run(ctx, seen),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`hung: over ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      if (err instanceof CellSkipped) skipped = err.message;
      else if (!(err instanceof StepFailed))
        seen.expect(false, 'cell ran to the end', (err as Error).message.slice(0, 300));
    } finally {
      clearTimeout(timer);
      await seen.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
    const result: CellResult = {
      cell: cell.name,
      expected: cell.expected,
      observed: skipped ? `skipped: ${skipped}` : seen.toString(),
      pass: !skipped && seen.ok,
      ms: Date.now() - started,
      ...(skipped ? { skipped } : {}),
    };
    opts.onResult?.(result);
    return result;
  }

  async runAll(cells: Cell[], opts: MatrixOptions = {}): Promise<CellResult[]> {
    const out: CellResult[] = [];
    for (const cell of cells) out.push(await this.run(cell, opts));
    return out;
  }

  async close(): Promise<void> {
    const py = await this.pykmipServer?.catch(() => undefined);
    await py?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
