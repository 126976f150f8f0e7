// `ekmctl recover drives`: disaster recovery when ekmd's state directory is lost but the
// key server still holds the drives' AKs. ekmd names every AK "ekmd-AK cluster=UUID
// serial=S keyID=K" (and groups a cluster's keys in "ekmd-cluster-UUID"): a Locate of
// the Secret Data visible to the client certificate (or of the cluster's group), then one
// batched Get Attributes, rebuilds serial → (UID, keyID); the serials are matched to the
// drives present. With --apply (ekmd stopped: the state lock is taken) the AKs are fetched
// once to compute their key check values, and one store transaction writes what boot
// unlock needs: the key pair (the --cert/--key identity), the key server and a provider,
// the drive and key records, EAR enabled. The keys are never printed.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../../util/command';
import { acquireStateLock, StateLockError } from '../../store/state-lock';
import { AK_BYTES } from '../../cluster/drive-keys/drive-keys';
import { clusterGroup, parseAkName } from '../../cluster/drive-keys/kmip-keys';
import { refuseUnlessEmpty, writeRecovery } from '../../cluster/recovery';
import { KmipClient, ops } from '../../kmip/client';
import { ObjectType, State } from '../../kmip/ttlv';
import type { DriveInfo, DriveInventory } from '../../opal/inventory';
import { openSealer, openSqliteStore, STORE_FILE } from '../../store';
import { clientOptions } from '../opal/kmip-pin';
import type { Values } from '../opal/opal-command';
import { runGroup, type Context, type Subcommand } from './subcommand';
import { json } from '../client/output';
import { DEFAULT_STATE_DIR } from './store';

export interface FoundKey {
  uid: string;
  clusterUuid: string;
  serial: string;
  keyID: string;
}

export interface Match {
  serial: string;
  /** Present drive with that serial, if any, and its slot (place in the inventory). */
  drive: DriveInfo | undefined;
  slot: number;
  keys: FoundKey[];
}

/** Every active ekmd AK the client can see: Locate, then one batched Get Attributes. */
export async function locateAks(client: KmipClient, clusterUuid?: string): Promise<FoundKey[]> {
  const uids = await client.locate({
    objectType: ObjectType.SecretData,
    ...(clusterUuid ? { objectGroups: [clusterGroup(clusterUuid)] } : {}),
  });
  if (uids.length === 0) return [];
  const { results } = await client.batch(uids.map((u) => ops.getAttributes(u, ['names', 'state'])));
  const found: FoundKey[] = [];
  uids.forEach((uid, i) => {
    const r = results[i]!;
    if (!r.ok) return; // gone between Locate and Get Attributes
    const { names = [], state } = r.value.attributes;
    if (state !== undefined && state !== State.Active) return;
    for (const n of names) {
      const k = parseAkName(n);
      if (k && (!clusterUuid || k.clusterUuid === clusterUuid)) found.push({ uid, ...k });
    }
  });
  return found;
}

async function inventoryFrom(ctx: Context): Promise<DriveInventory | undefined> {
  const sim = ctx.string('sim');
  const devices = ctx.strings('device');
  if (sim && devices.length) throw new UsageError('--sim and --device are exclusive');
  if (sim) {
    const { SimInventory } = await import('../../opal/sim-socket/inventory');
    return new SimInventory(sim);
  }
  if (devices.length) {
    const { SysfsInventory } = await import('../../opal/sysfs-inventory');
    const { LibcTransport } = await import('../../opal/libc-transport');
    const all = new SysfsInventory({ transport: new LibcTransport() });
    return {
      list: async () => (await all.list()).filter((d) => devices.includes(d.path)),
      watch: () => () => {},
      close: () => all.close(),
    };
  }
  return undefined;
}

export function matchDrives(keys: FoundKey[], drives: DriveInfo[]): Match[] {
  const serials = [...new Set([...keys.map((k) => k.serial), ...drives.map((d) => d.serial)])];
  return serials.sort().map((serial) => ({
    serial,
    drive: drives.find((d) => d.serial === serial),
    slot: drives.findIndex((d) => d.serial === serial),
    keys: keys.filter((k) => k.serial === serial),
  }));
}

function describe(m: Match): string {
  if (!m.drive) return 'not present';
  if (m.keys.length === 0) return 'no key at the key server';
  if (m.keys.length > 1) return `${m.keys.length} keys: ambiguous, not applied`;
  return 'recoverable';
}

const drives: Subcommand = {
  summary: 'rebuild the drive → key map from the key server (lost state directory)',
  offline: true,
  flags: {
    'kmip-host': {
      type: 'string',
      multiple: true,
      help: '--kmip-host H      key server (repeatable)',
    },
    'kmip-port': { type: 'string', help: '--kmip-port N      default 5696' },
    ca: { type: 'string', multiple: true, help: "--ca FILE          key server's CA (repeatable)" },
    cert: { type: 'string', help: "--cert FILE        the cluster's client certificate" },
    key: { type: 'string', help: '--key FILE         its private key (PEM)' },
    'kmip-version': { type: 'string', help: '--kmip-version V   pin a KMIP version' },
    'kmip-timeout': { type: 'string', help: '--kmip-timeout MS  default 5000' },
    'cluster-uuid': {
      type: 'string',
      help: "--cluster-uuid U   only this cluster's keys (needed if several are found)",
    },
    sim: { type: 'string', help: '--sim SOCKET       drives of ekmd-sim' },
    device: { type: 'string', multiple: true, help: '--device PATH      a drive (repeatable)' },
    'state-dir': {
      type: 'string',
      help: `--state-dir DIR    ekmd's stateDir for --apply (default ${DEFAULT_STATE_DIR})`,
    },
    apply: { type: 'boolean', help: '--apply            write the records (ekmd must be stopped)' },
    json: { type: 'boolean', help: '--json             machine-readable output' },
  },
  details: [
    "Finds ekmd's AKs at the key server by their Names and matches them to the drives",
    'present (--sim or --device). Without --apply it only reports. --apply writes the key',
    'pair (--cert/--key), the key server, a key provider, the drive and key records and',
    'EAR enabled into an empty store, so that ekmd unlocks the drives at its next start.',
    'Secrets are sealed under stateDir/seal.key (made if missing), or under',
    '$CREDENTIALS_DIRECTORY/seal.key when set, as ekmd does.',
    'Not recoverable from the key server: the cluster itself (name, MVIP/SVIP, admin',
    'account), drive roles and Element drive status (drives come back available), other',
    'key servers of the provider, and the fault and audit history.',
  ],
  async run(ctx) {
    const values: Values = {
      'kmip-host': ctx.strings('kmip-host') as unknown as string,
      ca: ctx.strings('ca') as unknown as string,
      cert: ctx.string('cert'),
      key: ctx.string('key'),
      'kmip-port': ctx.string('kmip-port'),
      'kmip-version': ctx.string('kmip-version'),
      'kmip-timeout': ctx.string('kmip-timeout'),
    };
    const options = await clientOptions(values);
    const clusterUuid = ctx.string('cluster-uuid');
    const apply = ctx.bool('apply');
    const inventory = await inventoryFrom(ctx);
    if (apply && !inventory) throw new UsageError('--apply needs the drives: --sim or --device');
    const client = new KmipClient(options);
    try {
      const keys = await locateAks(client, clusterUuid);
      const clusters = [...new Set(keys.map((k) => k.clusterUuid))];
      if (clusters.length > 1)
        throw new Error(
          `keys of ${clusters.length} clusters found (${clusters.join(', ')}); choose one with --cluster-uuid`,
        );
      let present: DriveInfo[] = [];
      try {
        present = inventory ? await inventory.list() : [];
      } finally {
        await inventory?.close();
      }
      const matches = matchDrives(keys, present);
      const report = {
        clusterUuid: clusters[0] ?? null,
        keyServer: `${options.hostnames[0]}:${options.port}`,
        drives: matches.map((m) => ({
          serial: m.serial,
          drive: m.drive?.path ?? null,
          kmipUIDs: m.keys.map((k) => k.uid),
          keyIDs: m.keys.map((k) => k.keyID),
          outcome: describe(m),
        })),
        applied: null as null | { stateDir: string; keyProviderID: number; drives: number },
      };
      const recoverable = matches.filter((m) => describe(m) === 'recoverable');
      if (apply) {
        if (recoverable.length === 0) throw new Error('no drive is recoverable; nothing written');
        const stateDir = ctx.string('state-dir') ?? DEFAULT_STATE_DIR;
        report.applied = await applyRecovery(stateDir, client, options, recoverable);
      }
      if (ctx.json) ctx.out(json(report));
      else {
        ctx.out(
          `cluster ${report.clusterUuid ?? '(no ekmd keys found)'}, key server ${report.keyServer}\n`,
        );
        for (const d of report.drives)
          ctx.out(
            `${d.serial.padEnd(20)} ${(d.drive ?? '-').padEnd(14)} uid ${d.kmipUIDs.join(',') || '-'}  ${d.outcome}\n`,
          );
        ctx.out(
          report.applied
            ? `wrote ${report.applied.drives} drive(s) and their keys to ${report.applied.stateDir} (key provider ${report.applied.keyProviderID}); start ekmd to unlock them\n`
            : `${recoverable.length} drive(s) recoverable${apply ? '' : '; --apply writes them'}\n`,
        );
      }
      return recoverable.length > 0 || keys.length === 0 ? EXIT_OK : EXIT_FAILURE;
    } finally {
      client.close();
    }
  },
};

async function applyRecovery(
  stateDir: string,
  client: KmipClient,
  options: {
    hostnames: string[];
    port?: number;
    ca: string | string[];
    cert: string;
    key: string | Buffer;
  },
  recoverable: Match[],
): Promise<{ stateDir: string; keyProviderID: number; drives: number }> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  let lock;
  try {
    lock = acquireStateLock(stateDir);
  } catch (err) {
    if (err instanceof StateLockError) throw new Error(`${err.message}; stop ekmd first`);
    throw err;
  }
  const store = openSqliteStore(join(stateDir, STORE_FILE));
  const aks = new Map<string, Buffer>();
  const fetched: Buffer[] = [];
  try {
    refuseUnlessEmpty(store, stateDir); // before contacting anyone
    const keys = recoverable.map((m) => m.keys[0]!);
    const { results } = await client.batch(keys.map((k) => ops.get(k.uid)));
    // Every fetched key goes where the `finally` zeroes it before any check can throw.
    for (const r of results) if (r.ok) fetched.push(r.value.material);
    keys.forEach((k, i) => {
      const r = results[i]!;
      if (!r.ok) throw new Error(`Get ${k.uid} (serial ${k.serial}): ${r.error.message}`);
      aks.set(k.uid, r.value.material);
      if (r.value.material.length !== AK_BYTES)
        throw new Error(`key ${k.uid} is ${r.value.material.length} bytes, not an ekmd AK`);
    });
    // The sealing root ekmd will use: a systemd credential when run with one, as ekmd does.
    const sealer = openSealer({ stateDir, credentialsDir: process.env.CREDENTIALS_DIRECTORY });
    const privateKey = createPrivateKey(options.key);
    const cert = new X509Certificate(options.cert);
    const commonName = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
    const { keyProviderID } = await writeRecovery(store, sealer, stateDir, {
      privateKey,
      ...(commonName ? { commonName } : {}),
      server: {
        hostnames: options.hostnames,
        port: options.port ?? 5696,
        ca: (Array.isArray(options.ca) ? options.ca : [options.ca]).join('\n'),
        cert: options.cert,
      },
      drives: recoverable.map((m) => {
        const k = m.keys[0]!;
        const d = m.drive!;
        return {
          serial: d.serial,
          path: d.path,
          model: d.model,
          capacityBytes: d.capacityBytes,
          opal: d.opal,
          slot: m.slot,
          keyID: k.keyID,
          kmipUID: k.uid,
          ak: aks.get(k.uid)!,
        };
      }),
    });
    return { stateDir, keyProviderID, drives: recoverable.length };
  } finally {
    for (const ak of fetched) ak.fill(0);
    await store.close();
    lock.release();
  }
}

export const run = (argv: string[]) =>
  runGroup(
    'recover',
    'Disaster recovery from the key server when the state directory is lost (offline).',
    { drives },
    argv,
  );
