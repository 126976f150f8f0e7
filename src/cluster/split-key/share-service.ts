// A node's end of the links between nodes on a shared store: its link identity, the share
// server answering its peers, and the address it publishes in its node record. The port is
// any free one, chosen at each start; the node's record is brought up to date at start, so
// peers always read where it listens now.
import type { Logger } from 'pino';
import type { Sealer } from '../../store/seal';
import type { Store } from '../../store/store';
import { nodeLinkIdentity } from '../node-link/link-identity';
import { ShareServer } from '../node-link/share-server';
import type { NodeLinkAddress } from '../nodes/node-records';
import type { ClusterSealing } from '../sealing/cluster-sealing';
import { currentHolder } from './dak-access';
import { shareSource } from './split-key';

export interface ShareServiceOptions {
  store: Store;
  /** The node's own seal.key: its link key is sealed under it. */
  local: Sealer;
  sealing: ClusterSealing;
  stateDir: string;
  uuid: string;
  /** The node's mip: where peers reach it. */
  host: string;
  logger?: Logger;
}

export interface ShareService {
  address: NodeLinkAddress;
  close(): Promise<void>;
}

export async function startShareService(options: ShareServiceOptions): Promise<ShareService> {
  const { store, sealing, stateDir } = options;
  const identity = await nodeLinkIdentity(stateDir, options.local, options.uuid, options.logger);
  const certificate = identity.cert;
  const server = new ShareServer({
    store,
    identity,
    // Who this node is is read at each request: it joins and leaves while the server runs.
    shares: (requester, generation) => {
      const holder = currentHolder(store, stateDir, sealing.nodeKey);
      return holder && shareSource(store, holder)(requester, generation);
    },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const port = await server.listen(options.host, 0);
  options.logger?.info({ host: options.host, port }, 'serving the node link');
  return { address: { port, certificate }, close: () => server.close() };
}
