// The ensemble as this node sees it: each configured endpoint asked for its status on a
// connection of its own, with a short deadline. A member is healthy when it answers and
// knows a leader; one that does not answer, or has no leader (quorum lost), is not.
import { Etcd3 } from 'etcd3';
import type { EnsembleMember } from '../store';
import { passThrough, type EtcdIo } from './client';

/** How long one member may take to answer. */
const STATUS_DEADLINE_MS = 2_000;

export async function ensembleStatus(io: EtcdIo): Promise<EnsembleMember[]> {
  return Promise.all(io.config.endpoints.map((endpoint) => memberStatus(io, endpoint)));
}

async function memberStatus(io: EtcdIo, endpoint: string): Promise<EnsembleMember> {
  const { tls } = io;
  const client = new Etcd3({
    hosts: [endpoint],
    credentials: tls && { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
    // One try, no circuit breaker: the answer is this member's health now.
    faultHandling: { host: () => passThrough, global: passThrough as never },
  });
  try {
    const status = await client.maintenance.status({ deadline: Date.now() + STATUS_DEADLINE_MS });
    if (status.leader === '0')
      return { endpoint, healthy: false, problem: 'no leader (quorum lost)' };
    return { endpoint, healthy: true };
  } catch (err) {
    const message = ((err as Error).message ?? String(err)).split('\n')[0]!;
    return { endpoint, healthy: false, problem: message.slice(0, 200) };
  } finally {
    client.close();
  }
}
