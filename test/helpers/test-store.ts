// The store a test node runs on: the SQLite file in its directory, or — when the suite runs
// with EKMD_TEST_STORE=etcd (test/etcd/*.test.ts) — a prefix of its own on one etcd member
// started for this test process and stopped when it exits. The same directory gives the
// same prefix, so a node restarted on its directory finds its store again.
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { startEtcdMembers, type EtcdCluster } from '../../scripts/etcd/members';
import { openSqliteStore, STORE_FILE, type Store } from '../../src/store';
import type { Logger } from 'pino';

export const onEtcd = (): boolean => process.env.EKMD_TEST_STORE === 'etcd';

let member: Promise<EtcdCluster> | undefined;

/** The etcd member of this process (started on first use); undefined on SQLite. */
export async function testEtcd(): Promise<EtcdCluster | undefined> {
  if (!onEtcd()) return undefined;
  member ??= startEtcdMembers({ members: 1 });
  return member;
}

/** The prefix a node in `dir` uses on etcd. */
export function prefixOf(dir: string): string {
  return `/test/${createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 16)}/`;
}

/** Opens the store of the node in `dir` on the backend this suite runs on. */
export async function openTestStore(dir: string, logger?: Logger): Promise<Store> {
  const etcd = await testEtcd();
  if (!etcd) return openSqliteStore(join(dir, STORE_FILE), logger ? { logger } : {});
  const { openEtcdStore } =
    require('../../src/store/etcd') as typeof import('../../src/store/etcd');
  return openEtcdStore(
    { endpoints: etcd.endpoints, prefix: prefixOf(dir) },
    { create: true, ...(logger ? { logger } : {}) },
  );
}

/** The config's store setting for an ekmd process in `stateDir` on this suite's backend. */
export async function testStoreSetting(stateDir: string): Promise<object | undefined> {
  const etcd = await testEtcd();
  if (!etcd) return undefined;
  return { backend: 'etcd', etcd: { endpoints: etcd.endpoints, prefix: prefixOf(stateDir) } };
}
