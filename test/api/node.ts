// One ekmd control plane for a test: a real SQLite store and sealing root in a fresh
// state directory, the API server on a loopback port, and an SDK-like client trusting its
// self-signed certificate. restart() closes everything and opens it again from disk.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiMethod, type ApiServer } from '../../src/api';
import type { KeyServerTester } from '../../src/cluster/key-servers/key-server-tester';
import { openSealer, type Sealer, type Store } from '../../src/store';
import { openTestStore } from '../helpers/test-store';
import type { ApiLimits } from '../../src/api/connection-limits';
import { API_CERT_FILE } from '../../src/store/state-files';
import { withoutAudit } from '../../src/cluster/audit';
import { ElementClient } from './element-client';

export const BOOTSTRAP = { username: 'bootstrap', password: 'bootstrap-secret-1' };

export interface TestNode {
  dir: string;
  store: Store;
  sealer: Sealer;
  api: ApiServer;
  client: ElementClient;
  /** Every store entry, for before/after comparisons. */
  snapshot(): string;
  restart(): Promise<void>;
}

export async function startNode(
  t: { teardown(fn: () => unknown): void },
  tester: KeyServerTester,
  extra: {
    /** Methods served beside the built-in ones. */
    methods?: ApiMethod[];
    limits?: Partial<ApiLimits>;
  } = {},
): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-api-'));
  const node = { dir } as TestNode;
  const open = async () => {
    node.store = await openTestStore(dir);
    node.sealer = openSealer({ stateDir: dir });
    node.api = await startApiServer({
      store: node.store,
      sealer: node.sealer,
      listen: { host: '127.0.0.1', port: 0 },
      stateDir: dir,
      bootstrapAdmin: BOOTSTRAP,
      tester,
      nodeName: 'node-1',
      ...extra,
    });
    const ca = readFileSync(join(dir, API_CERT_FILE), 'utf8');
    const previous = node.client;
    node.client = new ElementClient(
      node.api.address.port,
      ca,
      previous?.username ?? BOOTSTRAP.username,
      previous?.password ?? BOOTSTRAP.password,
    );
  };
  // Tolerates a half-open node, so a failed start cannot leave a server holding the test.
  const close = async () => {
    node.client?.close();
    await node.api?.close();
    await node.store?.close();
  };
  t.teardown(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });
  await open();
  // The audit log records refused calls too: it is not part of the state compared.
  node.snapshot = () => JSON.stringify(withoutAudit(node.store.list('')));
  node.restart = async () => {
    await close();
    await open();
  };
  return node;
}
