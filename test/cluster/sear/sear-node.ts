// A node for software-EAR tests: the real simulator on its Unix socket, a real SQLite store
// and sealing root, cluster faults, the API server with the drive, EAR, SEAR, async and
// fault methods as the daemon wires them, and an SDK-like client. restart() reopens
// everything from disk as a new daemon process would; every API reply and log line is
// kept so a test can look for leaked key material.
import { withoutAudit } from '../../../src/cluster/audit';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startApiServer, type ApiServer } from '../../../src/api';
import { API_CERT_FILE } from '../../../src/store/state-files';
import { faultMethods } from '../../../src/api/methods/fault-methods';
import { FaultService } from '../../../src/cluster/faults';
import type { KeyServerTester } from '../../../src/cluster/key-servers/key-server-tester';
import { openHardwareEar, type HardwareEar } from '../../../src/daemon/hardware-ear-wiring';
import { openSear, type Sear } from '../../../src/daemon/sear-wiring';
import type { DataPath } from '../../../src/opal/datapath';
import type { DriveMode } from '../../../src/sim/drive/record';
import { SimServer } from '../../../src/sim/server';
import { Simulator } from '../../../src/sim/simulator';
import { openSealer, type Sealer, type Store } from '../../../src/store';
import { openTestStore } from '../../helpers/test-store';
import { ElementClient } from '../../api/element-client';

export const ADMIN = { username: 'admin', password: 'admin-secret-1' };

export interface SearNode {
  dir: string;
  socket: string;
  sim: Simulator;
  store: Store;
  sealer: Sealer;
  api: ApiServer;
  hw: HardwareEar;
  sear: Sear;
  faults: FaultService;
  client: ElementClient;
  /** Every API reply body and log line so far. */
  transcript(): string;
  settle(): Promise<void>;
  open(): Promise<void>;
  close(): Promise<void>;
  restart(): Promise<void>;
  snapshot(): string;
}

export interface SearNodeOptions {
  drives?: number;
  mode?: DriveMode;
  tester?: KeyServerTester;
  /** Instead of the simulator's own; a function gets the simulator's socket. */
  dataPath?: DataPath | ((socket: string) => DataPath);
}

const noContact: KeyServerTester = {
  test: async () => ({ ok: false, failedStep: 'connect', message: 'not used in this test' }),
};

export async function startSearNode(
  t: { teardown(fn: () => unknown): void },
  options: SearNodeOptions = {},
): Promise<SearNode> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-sear-'));
  const socket = join(dir, 'sim.sock');
  const sim = new Simulator({
    stateDir: join(dir, 'sim'),
    drives: options.drives ?? 3,
    sizeMiB: 1,
    ...(options.mode ? { mode: options.mode } : {}),
  });
  const simServer = new SimServer(sim, socket);
  await simServer.listen();
  const seen: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        seen.push(chunk.toString());
        done();
      },
    }),
  );
  const config = {
    drives: { backend: 'sim' as const, sim: { socket } },
    kmip: { connectTimeoutMs: 2000, requestTimeoutMs: 10000 },
    unlock: { retry: { maxDelayMs: 1000 }, metadataGraceSec: 360, keyCheckIntervalSec: 300 },
  };
  const node = { dir, socket, sim } as SearNode;
  let opened = false;
  node.open = async () => {
    node.store = await openTestStore(dir);
    node.sealer = openSealer({ stateDir: dir });
    node.faults = new FaultService(node.store);
    const deps = { store: node.store, sealer: node.sealer, faults: node.faults, logger };
    node.hw = openHardwareEar(config, deps);
    node.sear = await openSear(config, {
      ...deps,
      inventory: node.hw.drives.inventory,
      ...(options.dataPath
        ? {
            dataPath:
              typeof options.dataPath === 'function' ? options.dataPath(socket) : options.dataPath,
          }
        : {}),
    });
    node.api = await startApiServer({
      store: node.store,
      sealer: node.sealer,
      listen: { host: '127.0.0.1', port: 0 },
      stateDir: dir,
      bootstrapAdmin: ADMIN,
      tester: options.tester ?? noContact,
      nodeName: 'node-1',
      methods: [
        ...node.sear.decorate(node.hw.methods),
        ...node.sear.methods,
        ...faultMethods(node.faults),
      ],
      encryptionStates: node.hw.encryptionStates,
      logger,
    });
    await node.hw.start();
    node.sear.start();
    const ca = readFileSync(join(dir, API_CERT_FILE), 'utf8');
    node.client?.close();
    const client = new ElementClient(node.api.address.port, ca, ADMIN.username, ADMIN.password);
    const post = client.post.bind(client);
    client.post = async (...args) => {
      const reply = await post(...args);
      seen.push(reply.text);
      return reply;
    };
    node.client = client;
    opened = true;
  };
  node.close = async () => {
    if (!opened) return;
    opened = false;
    node.client.close();
    await node.api.close();
    await node.sear.close();
    await node.hw.close();
    node.faults.close();
    await node.store.close();
  };
  node.restart = async () => {
    await node.close();
    await node.open();
  };
  node.settle = async () => {
    await node.hw.drives.idle();
    await node.hw.ear.idle();
    await node.sear.service.idle();
  };
  node.transcript = () => seen.join('\n');
  // The audit log records refused calls too: it is not part of the state compared.
  node.snapshot = () => JSON.stringify(withoutAudit(node.store.list('')));
  t.teardown(async () => {
    await node.close();
    await simServer.close();
    sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await node.open();
  return node;
}

export async function createCluster(node: SearNode, sear = true): Promise<void> {
  await node.client.ok('CreateCluster', {
    acceptEula: true,
    mvip: '127.0.0.1',
    svip: '127.0.0.1',
    nodes: ['127.0.0.1'],
    username: ADMIN.username,
    password: ADMIN.password,
    enableSoftwareEncryptionAtRest: sear,
  });
}

/** A block per drive, different on each drive; written through the DEK layer. */
export const pattern = (index: number): Buffer => Buffer.alloc(512, 0x30 + index);

export function writeEveryDrive(node: SearNode, lba = 7): void {
  for (const d of node.sim.drives) d.writeBlock(lba, pattern(d.index));
}

/** Every drive reads back its pattern (throws ENOKEY while a DEK is not attached). */
export function readsBack(node: SearNode, lba = 7): boolean {
  return node.sim.drives.every((d) => d.readBlock(lba).equals(pattern(d.index)));
}

/** Polls GetAsyncResult (keeping it) until complete, then reads it once more (purging). */
export async function awaitAsync(
  node: SearNode,
  asyncHandle: number,
  ms = 30_000,
): Promise<Record<string, any>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await node.client.ok('GetAsyncResult', { asyncHandle, keepResult: true });
    if (r.status === 'complete') return node.client.ok('GetAsyncResult', { asyncHandle });
    if (Date.now() > deadline) throw new Error(`async handle ${asyncHandle} still ${r.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `probe` until it is true. */
export async function waitFor(what: string, probe: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
