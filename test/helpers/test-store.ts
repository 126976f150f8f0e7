// The store a test node runs on: the SQLite file in its directory, or — when the suite runs
// with EKMD_TEST_STORE=etcd (test/etcd/*.test.ts) — a prefix of its own on one etcd member
// started for this test file and stopped after its last test. The same directory gives the
// same prefix, so a node restarted on its directory finds its store again. Child processes
// (crash fixtures) inherit EKMD_TEST_ETCD_ENDPOINTS and use the parent's member.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startEtcdMembers, type EtcdCluster } from '../../scripts/etcd/members';
import { openSqliteStore, STORE_FILE, type Store } from '../../src/store';
import { JOINED_STORE_FILE } from '../../src/store/state-files';
import type { Logger } from 'pino';

export const onEtcd = (): boolean => process.env.EKMD_TEST_STORE === 'etcd';

/** Set by the process that started the member; its children reach it through it. */
const ENDPOINTS_ENV = 'EKMD_TEST_ETCD_ENDPOINTS';

let member: Promise<{ endpoints: string[] }> | undefined;

/** The etcd endpoints of this suite (its member started on first use); undefined on SQLite. */
export async function testEtcd(): Promise<{ endpoints: string[] } | undefined> {
  if (!onEtcd()) return undefined;
  const inherited = process.env[ENDPOINTS_ENV];
  member ??= inherited
    ? Promise.resolve({ endpoints: inherited.split(',') })
    : startEtcdMembers({ members: 1 }).then((cluster: EtcdCluster) => {
        // Stopped once the file's last test is done (the member would keep it running).
        (require('tap') as typeof import('tap')).t.teardown(() => cluster.stop());
        process.env[ENDPOINTS_ENV] = cluster.endpoints.join(',');
        return cluster;
      });
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

/**
 * What an ekmd process left in `stateDir` says which backend it ran on: on etcd
 * store.json names this suite's prefix for it and there is no SQLite file; on SQLite the
 * file and no store.json. For suites to check they ran where they meant to.
 */
export function stateDirBackend(stateDir: string): string {
  const joined = join(stateDir, JOINED_STORE_FILE);
  const sqlite = existsSync(join(stateDir, STORE_FILE));
  if (!existsSync(joined)) return sqlite ? 'sqlite' : 'none';
  const { prefix } = JSON.parse(readFileSync(joined, 'utf8')) as { prefix?: string };
  if (sqlite) return 'both';
  return prefix === prefixOf(stateDir) ? 'etcd' : `etcd ${prefix}`;
}

/** The backend this suite runs on, as stateDirBackend() names it. */
export const suiteBackend = (): string => (onEtcd() ? 'etcd' : 'sqlite');
