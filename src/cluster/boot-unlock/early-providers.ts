// The early unlock's key providers, from the key plan alone: each opened ahead (its TLS
// connection made while the drives' status is read), and one batched Get per provider for
// the keys of the drives that read locked.
import type { Logger } from 'pino';
import { parseVersion, type KmipProvider } from '../../kmip/client';
import { fetchAks, providerFor, type KmipSettings } from '../drive-keys/kmip-keys';
import { askServers } from '../key-servers/ask-provider';
import type { KeyAnswers } from './fetch-keys';
import type { KeyPlan, PlannedDrive, PlannedProvider } from './key-plan';

/** A client for a planned provider's servers, in the plan's order. */
export function openPlanned(
  p: PlannedProvider,
  privateKeyPem: Buffer,
  kmip: KmipSettings,
  logger?: Logger,
): KmipProvider {
  const key = Buffer.from(privateKeyPem); // the provider's own copy, zeroed when it closes
  return providerFor(p.servers, key, kmip, {
    versionOf: (s) => (s.version ? { knownVersion: parseVersion(s.version) } : {}),
    ...(logger ? { logger } : {}),
  });
}

/** One batched Get per provider for `drives`' keys, through the providers opened ahead. */
export async function requestKeys(
  plan: KeyPlan,
  providers: Map<number, KmipProvider>,
  drives: PlannedDrive[],
  fetch: typeof fetchAks,
): Promise<KeyAnswers> {
  const answers: KeyAnswers = new Map();
  await Promise.all(
    plan.providers.map(async (p) => {
      const provider = providers.get(p.keyProviderID);
      const uids = drives.filter((d) => d.keyProviderID === p.keyProviderID).map((d) => d.kmipUID);
      if (!provider || uids.length === 0) return;
      const ids = p.servers.map((s) => s.keyServerID);
      answers.set(
        p.keyProviderID,
        await askServers(
          ids,
          () => provider,
          (c) => fetch(c, uids),
        ),
      );
    }),
  );
  return answers;
}
