// The node the load runs drive: the fault matrix's scenario (ekmd, ekmd-sim, the dev key
// server, EAR enabled) outside a cell, with its own directory and dev PKI.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { Observations, type CellContext } from '../matrix/cell';
import { earScenario, type Scenario } from '../matrix/scenario';

export interface LoadSetting extends Scenario {
  ctx: CellContext;
  close(): Promise<void>;
}

export async function loadSetting(drives: number): Promise<LoadSetting> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-load-'));
  const seen = new Observations();
  try {
    const ctx: CellContext = {
      dir,
      pki: await makeDevPki(join(dir, 'pki')),
      pykmip: () => Promise.reject(new Error('no PyKMIP in load runs')),
    };
    const s = await earScenario(ctx, seen, { drives });
    return {
      ...s,
      ctx,
      async close() {
        await seen.cleanup();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await seen.cleanup();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
