// The setting most cells start from: a node whose drives hold a data pattern, a cluster
// whose key pair's certificate is signed by the dev CA, one key server and provider, and
// hardware EAR enabled with every AK at that key server. Then the invariants each cell
// ends with: every drive unlocks after a power cycle and an ekmd restart (no key lost),
// every block reads back (no data lost), no Tries counter above 1.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { signClientCsr } from '../../pki/dev-pki';
import type { CellContext, Observations } from './cell';
import { FaultyKeyServer } from './faulty-key-server';
import { MatrixNode, type NodeOptions } from './node';

export interface KeyServerSpec {
  name: string;
  port: number;
  /** The CA ekmd is told to trust; the dev CA by default. */
  caPem?: string;
  /** The client certificate ekmd presents; signed from its CSR by default. */
  clientCertPem?: string;
}

export interface Scenario {
  node: MatrixNode;
  csr: string;
  keyServerID: number;
  keyProviderID: number;
  eks?: FaultyKeyServer;
}

export function devCa(ctx: CellContext): string {
  return readFileSync(ctx.pki.ca, 'utf8');
}

export async function createKeyServer(
  ctx: CellContext,
  node: MatrixNode,
  csr: string,
  spec: KeyServerSpec,
): Promise<number> {
  return (
    await node.rpc.ok('CreateKeyServerKmip', {
      kmipCaCertificate: spec.caPem ?? devCa(ctx),
      kmipClientCertificate: spec.clientCertPem ?? signClientCsr(ctx.pki.dir, csr),
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: spec.name,
      kmipKeyServerPort: spec.port,
    })
  ).kmipKeyServer.keyServerID as number;
}

export async function createProvider(node: MatrixNode, keyServerID: number): Promise<number> {
  const keyProviderID = (await node.rpc.ok('CreateKeyProviderKmip', { keyProviderName: 'p1' }))
    .kmipKeyProvider.keyProviderID as number;
  await node.rpc.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
  return keyProviderID;
}

/** A node with a cluster, pattern written, ekmd running; no key server yet. */
export async function clusterNode(
  ctx: CellContext,
  seen: Observations,
  opts: Partial<NodeOptions> = {},
): Promise<{ node: MatrixNode; csr: string }> {
  const node = await MatrixNode.start({ dir: join(ctx.dir, 'node'), ...opts });
  seen.teardown(() => node.close());
  await node.writePattern();
  await node.startEkmd();
  const csr = await node.createCluster();
  return { node, csr };
}

/** The full setting with the dev key server (or the given port's server) and EAR enabled. */
export async function earScenario(
  ctx: CellContext,
  seen: Observations,
  opts: Partial<NodeOptions> & { port?: number; enable?: boolean } = {},
): Promise<Scenario> {
  const { node, csr } = await clusterNode(ctx, seen, opts);
  const eks = opts.port ? undefined : await FaultyKeyServer.start(join(ctx.dir, 'eks'), ctx.pki);
  if (eks) seen.teardown(() => eks.close());
  const port = opts.port ?? eks!.port;
  const keyServerID = await createKeyServer(ctx, node, csr, { name: 'kms1', port });
  const keyProviderID = await createProvider(node, keyServerID);
  if (opts.enable !== false) {
    await node.enableEar(keyProviderID);
    await node.waitUnlocked();
  }
  return { node, csr, keyServerID, keyProviderID, ...(eks ? { eks } : {}) };
}

/** The largest admin1 Tries counter of any drive. */
export async function maxTries(node: MatrixNode): Promise<number> {
  return Math.max(0, ...(await node.simStatus()).map((d) => d.tries.admin1));
}

/**
 * The closing invariants. `except`: drive indexes a cell leaves locked on purpose
 * (checked by the cell itself).
 */
export async function checkInvariants(
  node: MatrixNode,
  seen: Observations,
  except: number[] = [],
): Promise<void> {
  const tries = await maxTries(node);
  seen.expect(tries <= 1, `Tries ≤ 1`, `max Tries ${tries}`);
  await node.stopEkmd();
  await node.powerCycle();
  await seen.step('ekmd restarts', node.startEkmd());
  const keyed = new Set(
    (await node.drives()).filter((d) => d.keyID).map((d) => d.serial as string),
  );
  const locked = async () =>
    (await node.simStatus())
      .filter((s) => keyed.has(s.serial) && s.locked && !except.includes(s.index))
      .map((s) => s.index);
  const deadline = Date.now() + 20_000;
  let still = await locked();
  while (still.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    still = await locked();
  }
  seen.expect(
    still.length === 0,
    `no key lost: ${keyed.size - except.length} drive(s) unlock after power cycle + restart`,
    `still locked: ${still.join(', ')}`,
  );
  if (except.length === 0) {
    const bad = await node.checkData();
    seen.expect(bad === '', 'no data lost', bad);
  }
  const after = await maxTries(node);
  seen.expect(after <= 1, 'Tries ≤ 1 after restart', `max Tries ${after}`);
}
