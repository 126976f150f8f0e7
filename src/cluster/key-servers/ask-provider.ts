// One request to a key provider, with the outcome told per key server: which servers
// failed as endpoints (and why), and which one answered. A KmipProvider fails over
// silently, so a provider that served through its second server would otherwise hide
// that its first is down. Servers it did not need (not asked, or healthy) are not named.
import type { Logger } from 'pino';
import type { KmipProvider } from '../../kmip/client';
import type { Store } from '../../store/store';
import { openProvider, type KmipSettings } from '../drive-keys/kmip-keys';
import type { ClusterKeyPair } from '../key-pair';
import { serversOfProvider } from './kmip-records';

export interface AskDeps {
  store: Store;
  keyPair: ClusterKeyPair;
  kmip: KmipSettings;
  logger?: Logger;
  /** Providers already opened (and connecting) for this request, by keyProviderID. */
  opened?: ReadonlyMap<number, KmipProvider>;
}

export interface ProviderAnswer<T> {
  /** The answer, when a server gave one. */
  value?: T;
  /** Why no server answered. */
  error?: string;
  /** keyServerID → why that server failed. */
  failed: Map<number, string>;
  /** The keyServerID of the server that answered or refused the request itself. */
  servedBy?: number;
}

export function askProvider<T>(
  deps: AskDeps,
  keyProviderID: number,
  request: (provider: KmipProvider) => Promise<T>,
): Promise<ProviderAnswer<T>> {
  // The same order openProvider gives the client: a fresh provider tries them in order.
  const serverIDs = serversOfProvider(deps.store, keyProviderID).map((s) => s.keyServerID);
  const open = () =>
    deps.opened?.get(keyProviderID) ??
    openProvider(deps.store, deps.keyPair, keyProviderID, deps.kmip, deps.logger);
  return askServers(serverIDs, open, request);
}

/**
 * `request` through the provider `open` makes for the servers `serverIDs` (in the order
 * the provider tries them), closed after; the outcome told per server.
 */
export async function askServers<T>(
  serverIDs: number[],
  open: () => KmipProvider,
  request: (provider: KmipProvider) => Promise<T>,
): Promise<ProviderAnswer<T>> {
  const answer: ProviderAnswer<T> = { failed: new Map() };
  let provider: KmipProvider;
  try {
    provider = open();
  } catch (err) {
    answer.error = (err as Error).message;
    return answer;
  }
  try {
    answer.value = await request(provider);
  } catch (err) {
    answer.error = (err as Error).message;
  } finally {
    provider.close();
  }
  for (const { index, error } of provider.lastFailures) {
    const id = serverIDs[index];
    if (id !== undefined) answer.failed.set(id, error.message);
  }
  // The server that answered (or refused as a server); without a batch to tell, the first
  // that did not fail; when every one failed, nobody answered.
  const served =
    provider.lastAnswered !== undefined
      ? serverIDs[provider.lastAnswered]
      : serverIDs.find((id) => !answer.failed.has(id));
  if (served !== undefined) answer.servedBy = served;
  return answer;
}
