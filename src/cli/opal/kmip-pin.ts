// Break-glass: a drive's AK fetched straight from the key server (KMIP Get over mutual
// TLS) to unlock it when ekmd cannot run. The key goes from the Get response to the drive
// and is zeroed; it is never printed. ekmd names each AK after its drive's serial
// ("ekmd-AK cluster=… serial=… keyID=…"): when the drive's serial can be read, a key
// named for another drive is refused before the drive is touched (no Opal try is spent).
import { readFile } from 'node:fs/promises';
import { parseAkName } from '../../cluster/drive-keys/kmip-keys';
import { KmipClient, ops, parseVersion, type KmipServerOptions } from '../../kmip/client';
import { OPAL_KEY_LEN_MAX } from '../../opal/abi';
import type { DriveInventory } from '../../opal/inventory';
import { ObjectType } from '../../kmip/ttlv';
import { UsageError } from '../../util/command';
import type { DriveTarget, Values } from './opal-command';

export const KMIP_PIN_OPTIONS = {
  'kmip-uid': { type: 'string' },
  'kmip-host': { type: 'string', multiple: true },
  'kmip-port': { type: 'string' },
  ca: { type: 'string', multiple: true },
  cert: { type: 'string' },
  key: { type: 'string' },
  'kmip-version': { type: 'string' },
  'kmip-timeout': { type: 'string' },
  'ignore-name': { type: 'boolean' },
} as const;

export const KMIP_PIN_HELP = [
  'Break-glass: --kmip-uid UID fetches the AK from a key server instead of --pin-file:',
  '  --kmip-host H [--kmip-port 5696] --ca FILE --cert FILE --key FILE',
  '  [--kmip-version V] [--kmip-timeout MS] [--ignore-name]',
  'The key is never printed. A key whose Name (ekmd-AK … serial=S …) names another',
  "drive's serial is refused unless --ignore-name.",
];

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

export async function clientOptions(v: Values): Promise<KmipServerOptions> {
  const hosts = v['kmip-host'] as unknown as string[] | undefined;
  const cas = v.ca as unknown as string[] | undefined;
  if (!hosts?.length) throw new UsageError('--kmip-uid needs --kmip-host');
  if (!cas?.length || typeof v.cert !== 'string' || typeof v.key !== 'string')
    throw new UsageError('--kmip-uid needs --ca, --cert and --key');
  const port = v['kmip-port'] === undefined ? 5696 : Number(v['kmip-port']);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`bad --kmip-port ${String(v['kmip-port'])}`);
  const timeout = v['kmip-timeout'] === undefined ? 5000 : Number(v['kmip-timeout']);
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw new UsageError(`bad --kmip-timeout ${String(v['kmip-timeout'])}`);
  const options: KmipServerOptions = {
    hostnames: hosts,
    port,
    ca: await Promise.all(cas.map((f) => readPem(f, 'CA file'))),
    cert: await readPem(v.cert, 'certificate'),
    key: await readPem(v.key, 'key'),
    connectTimeoutMs: timeout,
    requestTimeoutMs: timeout,
  };
  if (v['kmip-version'] !== undefined) {
    const pinned = parseVersion(v['kmip-version'] as string);
    if (!pinned) throw new UsageError(`bad --kmip-version ${String(v['kmip-version'])}`);
    options.version = pinned;
  }
  return options;
}

/** The serial in an ekmd AK Name, if the object has one. */
export function serialInName(names: readonly string[]): string | undefined {
  for (const n of names) {
    const parsed = parseAkName(n);
    if (parsed) return parsed.serial;
  }
  return undefined;
}

/** The drive's serial from the simulator or /sys/block; undefined when it cannot be read. */
export async function driveSerial(target: DriveTarget): Promise<string | undefined> {
  let inventory: DriveInventory;
  let path: string;
  if ('sim' in target) {
    const { SimInventory } = await import('../../opal/sim-socket/inventory');
    inventory = new SimInventory(target.sim);
    path = `sim:${target.n}`;
  } else {
    const { SysfsInventory } = await import('../../opal/sysfs-inventory');
    const { LibcTransport } = await import('../../opal/libc-transport');
    inventory = new SysfsInventory({ transport: new LibcTransport() });
    path = target.device;
  }
  try {
    return (await inventory.list()).find((d) => d.path === path)?.serial;
  } catch {
    return undefined;
  } finally {
    await inventory.close();
  }
}

/** Get the object UID; its material is the PIN (the caller zeroes it). */
export async function fetchKmipPin(values: Values, target: DriveTarget): Promise<Buffer> {
  const uid = values['kmip-uid'] as string;
  if (!uid) throw new UsageError('--kmip-uid must not be empty');
  const client = new KmipClient(await clientOptions(values));
  let material: Buffer | undefined;
  try {
    const { results } = await client.batch([ops.get(uid), ops.getAttributes(uid)] as const);
    const [got, attrs] = results;
    if (!got.ok) throw got.error;
    material = got.value.material;
    if (
      got.value.objectType !== ObjectType.SecretData &&
      got.value.objectType !== ObjectType.SymmetricKey
    )
      throw new Error(`object ${uid} is not Secret Data or a symmetric key`);
    if (material.length === 0 || material.length > OPAL_KEY_LEN_MAX)
      throw new Error(
        `object ${uid} holds ${material.length} bytes, not a PIN of 1..${OPAL_KEY_LEN_MAX}`,
      );
    const named = attrs.ok ? serialInName(attrs.value.attributes.names ?? []) : undefined;
    if (named !== undefined && values['ignore-name'] !== true) {
      const serial = await driveSerial(target);
      if (serial !== undefined && serial !== named)
        throw new Error(
          `key ${uid} is named for drive serial ${named}, but this drive is ${serial}; not tried (--ignore-name to override)`,
        );
    }
    const pin = material;
    material = undefined;
    return pin;
  } finally {
    material?.fill(0);
    client.close();
  }
}
