// The node the load runs drive: the fault matrix's scenario (ekmd, ekmd-sim, EAR enabled)
// outside a cell, with its own directory and dev PKI. The dev key server runs as its own
// process (`ekmctl kmip dev-server`) so the load generator's event loop does not slow its
// TLS handshakes; ekmd keeps its default KMIP timeouts. ekmd starts with the environment
// the systemd unit gives it (unit-env.ts) unless the caller names another.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../../pki/dev-pki';
import { Observations, type CellContext } from '../matrix/cell';
import { BINS, Child } from '../matrix/child';
import { earScenario, type Scenario } from '../matrix/scenario';
import { shippedEnvironment } from './unit-env';

export interface LoadSetting extends Scenario {
  ctx: CellContext;
  kmipPort: number;
  /** The variables ekmd was started with, besides the runner's own environment. */
  ekmdEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function loadSetting(
  drives: number,
  ekmdEnv: Record<string, string> = shippedEnvironment(),
): Promise<LoadSetting> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-load-'));
  const seen = new Observations();
  try {
    const pki = await makeDevPki(join(dir, 'pki'));
    const ctx: CellContext = {
      dir,
      pki,
      pykmip: () => Promise.reject(new Error('no PyKMIP in load runs')),
    };
    const eks = new Child('kmip-dev-server', [
      BINS.ekmctl,
      'kmip',
      'dev-server',
      '--state',
      join(dir, 'eks'),
      '--listen',
      '127.0.0.1:0',
      '--ca',
      pki.ca,
      '--cert',
      pki.server.cert,
      '--key',
      pki.server.key,
    ]);
    seen.teardown(() => eks.stop(5000));
    const kmipPort = Number((await eks.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const s = await earScenario(ctx, seen, {
      drives,
      port: kmipPort,
      kmip: { connectTimeoutMs: 3000, requestTimeoutMs: 10_000 },
      env: ekmdEnv,
    });
    return {
      ...s,
      ctx,
      kmipPort,
      ekmdEnv,
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
