// A BootUnlockService over an EarNode's store and simulator, with its own FaultService and
// a debug logger that counts the KMIP client's batched messages.
import { Writable } from 'node:stream';
import pino from 'pino';
import { BootUnlockService } from '../../../src/cluster/boot-unlock';
import { FaultService, type ClusterFault } from '../../../src/cluster/faults';
import { SimTransport } from '../../../src/sim/client-transport';
import type { EarNode } from '../hardware-ear/ear-node';

export interface Unlocker {
  service: BootUnlockService;
  faults: FaultService;
  kmipBatches(): number;
  currentFaults(code: string): ClusterFault[];
  close(): Promise<void>;
}

export function openUnlocker(node: EarNode, opts: { bootID?: string } = {}): Unlocker {
  let batches = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.includes('"msg":"kmip batch"')) batches++;
      done();
    },
  });
  const transport = new SimTransport(node.socket);
  const faults = new FaultService(node.store);
  const service = new BootUnlockService({
    store: node.store,
    sealer: node.sealer,
    transport,
    faults,
    kmip: { connectTimeoutMs: 1000, requestTimeoutMs: 3000 },
    retryMaxDelayMs: 200,
    bootID: () => opts.bootID ?? 'boot-1',
    logger: pino({ level: 'debug' }, stream),
  });
  return {
    service,
    faults,
    kmipBatches: () => batches,
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
