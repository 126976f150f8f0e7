// The KMIP version each key server settled on, remembered in the store so that a boot's
// first message to it needs no Discover Versions round trip. A cache, not state: it holds
// for the server's current endpoints only, and a server that refuses it is asked again.
import { formatVersion, parseVersion } from '../../kmip/client';
import type { KmipVersion } from '../../kmip/ttlv';
import type { Store, StoreReader } from '../../store/store';
import type { KeyServerRecord } from './kmip-records';

export const KMIP_VERSIONS_PREFIX = 'kmipVersions/';

interface Remembered {
  endpoints: string;
  version: string;
}

const keyOf = (keyServerID: number): string => `${KMIP_VERSIONS_PREFIX}${keyServerID}`;
const endpointsOf = (s: KeyServerRecord): string =>
  `${s.kmipKeyServerHostnames.join(',')}:${s.kmipKeyServerPort}`;

/** The client options that use and keep the memory; none inside a transaction. */
export function versionMemory(
  tx: StoreReader,
  server: KeyServerRecord,
): { knownVersion?: KmipVersion; onNegotiated?: (v: KmipVersion) => void } {
  // A transaction's handle is gone by the time a version is negotiated.
  if (!isStore(tx)) return {};
  const store = tx;
  const remembered = rememberedVersion(store, server);
  const knownVersion = remembered ? parseVersion(remembered) : undefined;
  return {
    ...(knownVersion ? { knownVersion } : {}),
    onNegotiated: (v) => {
      const version = formatVersion(v);
      if (version === remembered) return;
      // A cache: a write that fails only costs the next connection a Discover Versions.
      store
        .put(keyOf(server.keyServerID), { endpoints: endpointsOf(server), version })
        .catch(() => undefined);
    },
  };
}

/** The version remembered for the server's current endpoints ("1.4"), if any. */
export function rememberedVersion(tx: StoreReader, server: KeyServerRecord): string | undefined {
  const entry = tx.get<Remembered>(keyOf(server.keyServerID))?.value;
  return entry?.endpoints === endpointsOf(server) ? entry.version : undefined;
}

function isStore(tx: StoreReader): tx is Store {
  return typeof (tx as unknown as Partial<Store>).transaction === 'function';
}
