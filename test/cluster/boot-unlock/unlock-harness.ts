// A BootUnlockService over an EarNode's store and simulator, with its own FaultService and
// a debug logger that counts the KMIP client's batched messages and keeps its warnings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import pino from 'pino';
import { BootUnlockService, type BootUnlockDeps } from '../../../src/cluster/boot-unlock';
import { FaultService, type ClusterFault } from '../../../src/cluster/faults';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import type { DriveTransport } from '../../../src/opal/transport';
import type { Store } from '../../../src/store';
import { openTestStore } from '../../helpers/test-store';
import type { EarNode } from '../hardware-ear/ear-node';

export interface Unlocker {
  service: BootUnlockService;
  faults: FaultService;
  kmipBatches(): number;
  /** The messages of the warnings logged so far. */
  warnings(): string[];
  currentFaults(code: string): ClusterFault[];
  close(): Promise<void>;
}

export type UnlockerOptions = {
  bootID?: string;
  /** The drives' transport as the service sees it (e.g. one that counts or records calls). */
  wrapTransport?: (sim: SimTransport) => DriveTransport;
} & Partial<
  Pick<BootUnlockDeps, 'metadataGraceSec' | 'keyCheckIntervalSec' | 'afterUnlock' | 'dak'>
>;

export function openUnlocker(node: EarNode, opts: UnlockerOptions = {}): Unlocker {
  let batches = 0;
  const warnings: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line.includes('"msg":"kmip batch"')) batches++;
        if (line.includes('"level":40')) warnings.push((JSON.parse(line) as { msg: string }).msg);
      }
      done();
    },
  });
  const { bootID, wrapTransport, ...tuning } = opts;
  const transport = new SimTransport(node.socket);
  const faults = new FaultService(node.store);
  const service = new BootUnlockService({
    store: node.store,
    sealer: node.sealer,
    transport: wrapTransport ? wrapTransport(transport) : transport,
    faults,
    kmip: { connectTimeoutMs: 1000, requestTimeoutMs: 3000 },
    retryMaxDelayMs: 200,
    bootID: () => bootID ?? 'boot-1',
    ...tuning,
    logger: pino({ level: 'debug' }, stream),
  });
  return {
    service,
    faults,
    kmipBatches: () => batches,
    warnings: () => [...warnings],
    currentFaults: (code) => faults.list('current').filter((f: ClusterFault) => f.code === code),
    async close() {
      await service.close();
      faults.close();
      await transport.end();
    },
  };
}

export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A fresh store file with a FaultService on it, both closed (and removed) at teardown. */
export async function storeWithFaults(
  t: Test,
  name: string,
): Promise<{ store: Store; faults: FaultService }> {
  const dir = mkdtempSync(join(tmpdir(), `ekmd-${name}-`));
  const store = await openTestStore(dir);
  const faults = new FaultService(store);
  t.teardown(async () => {
    faults.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, faults };
}
