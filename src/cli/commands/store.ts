// `ekmctl store backup FILE`: a consistent copy of ekmd's store while ekmd runs, written
// 0600, never over an existing file: the SQLite file copied whole (online backup from a
// read-only connection), or, on a cluster store in etcd, a snapshot of every entry at one
// revision. `ekmctl store restore FILE`: a snapshot written into an empty store.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_OK, UsageError } from '../../util/command';
import { openSqliteStore, STORE_FILE } from '../../store';
import { openEtcd, readJoinedStore } from '../../store/cluster-store';
import { checkEtcdConfig, type EtcdStoreConfig } from '../../store/etcd/config';
import { restoreSnapshot, writeSnapshot } from '../../store/snapshot';
import { acquireStateLock } from '../../store/state-lock';
import { runGroup, type Subcommand } from './subcommand';
import { json } from '../client/output';

export const DEFAULT_STATE_DIR = '/var/lib/ekmd';

const stateFlag = {
  type: 'string' as const,
  help: `--state DIR      ekmd's stateDir (default ${DEFAULT_STATE_DIR})`,
};

const backup: Subcommand = {
  summary: "copy ekmd's store to FILE (0600), online",
  args: ['FILE'],
  offline: true,
  flags: {
    state: stateFlag,
    snapshot: {
      type: 'boolean',
      help: '--snapshot       a snapshot (JSON) even of a SQLite store, for `store restore`',
    },
    json: { type: 'boolean', help: '--json           machine-readable output' },
  },
  details: [
    'The copy holds sealed secrets only; restoring it needs the same sealing root',
    '(stateDir/seal.key or the systemd credential). A SQLite store (one node) is copied',
    'whole. To restore: stop ekmd, move stateDir/ekmd.db and its -wal and -shm files aside,',
    'copy the backup to stateDir/ekmd.db (owner ekmd, mode 0600), start ekmd. A cluster store in etcd',
    '(stateDir/store.json names it): the backup is a snapshot; `ekmctl store restore`',
    'writes it into an empty prefix.',
  ],
  async run(ctx) {
    const dest = ctx.args[0];
    const stateDir = ctx.string('state') ?? DEFAULT_STATE_DIR;
    const etcd = readJoinedStore(stateDir);
    let source: string;
    if (etcd) {
      source = `etcd ${etcd.endpoints.join(',')} prefix ${etcd.prefix}`;
      const store = await openEtcd(etcd, { create: false });
      try {
        writeSnapshot(store, dest);
      } finally {
        await store.close();
      }
    } else {
      source = join(stateDir, STORE_FILE);
      const store = openSqliteStore(source, { readonly: true });
      try {
        if (ctx.bool('snapshot')) writeSnapshot(store, dest);
        else store.backup(dest);
      } finally {
        await store.close();
      }
    }
    ctx.out(ctx.json ? json({ source, backup: dest }) : `backed up ${source} to ${dest}\n`);
    return EXIT_OK;
  },
};

const restore: Subcommand = {
  summary: 'write a store snapshot into an empty store (etcd prefix or a new SQLite file)',
  args: ['FILE'],
  offline: true,
  flags: {
    state: { type: 'string', help: '--state DIR      a stateDir with no store yet (SQLite)' },
    'etcd-endpoint': {
      type: 'string',
      multiple: true,
      help: '--etcd-endpoint URL  an etcd member (repeatable), instead of --state',
    },
    'etcd-prefix': { type: 'string', help: "--etcd-prefix P  the cluster's prefix (empty)" },
    'etcd-ca': {
      type: 'string',
      help: '--etcd-ca FILE   with --etcd-cert, --etcd-key: mutual TLS',
    },
    'etcd-cert': { type: 'string', help: "--etcd-cert FILE this node's etcd client certificate" },
    'etcd-key': { type: 'string', help: '--etcd-key FILE  its private key' },
    json: { type: 'boolean', help: '--json           machine-readable output' },
  },
  details: [
    'The store written into must hold nothing yet: a restore never merges into live state.',
    'Restoring needs the same sealing root the snapshot was sealed under.',
  ],
  async run(ctx) {
    const file = ctx.args[0];
    const endpoints = ctx.strings('etcd-endpoint');
    const stateDir = ctx.string('state');
    if (endpoints.length > 0 === (stateDir !== undefined))
      throw new UsageError('give --state DIR (SQLite) or --etcd-endpoint and --etcd-prefix');
    let target: string;
    let count: number;
    if (stateDir !== undefined) {
      target = join(stateDir, STORE_FILE);
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const lock = acquireStateLock(stateDir); // no ekmd may run on it meanwhile
      try {
        const store = openSqliteStore(target);
        try {
          count = await restoreSnapshot(file, store);
        } finally {
          await store.close();
        }
      } finally {
        lock.release();
      }
    } else {
      const etcd = etcdSetting(ctx.string.bind(ctx), endpoints);
      target = `etcd ${etcd.endpoints.join(',')} prefix ${etcd.prefix}`;
      const store = await openEtcd(etcd, { create: true });
      try {
        count = await restoreSnapshot(file, store);
      } finally {
        await store.close();
      }
    }
    ctx.out(
      ctx.json
        ? json({ backup: file, restored: target, entries: count })
        : `restored ${count} entries from ${file} into ${target}\n`,
    );
    return EXIT_OK;
  },
};

function etcdSetting(
  flag: (name: string) => string | undefined,
  endpoints: string[],
): EtcdStoreConfig {
  const tls = ['etcd-ca', 'etcd-cert', 'etcd-key'].map((n) => flag(n));
  if (tls.some((f) => f !== undefined) && tls.some((f) => f === undefined))
    throw new UsageError('--etcd-ca, --etcd-cert and --etcd-key go together');
  const [ca, cert, key] = tls;
  return checkEtcdConfig(
    {
      endpoints,
      prefix: flag('etcd-prefix'),
      ...(ca && cert && key ? { tls: { ca, cert, key } } : {}),
    },
    'ekmctl store restore',
  );
}

export const run = (argv: string[]) =>
  runGroup(
    'store',
    "ekmd's state store (offline: reads stateDir directly).",
    { backup, restore },
    argv,
  );
