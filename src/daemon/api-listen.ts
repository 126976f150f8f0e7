// Until CreateCluster the bootstrap password opens the API, so the API listens where
// listenBeforeCluster says (loopback unless the config opens it on purpose). Once the
// cluster exists its admin's credentials apply, and the API moves to api.listen at once:
// calls in progress finish where they are, new connections go to the new address.
import type { Logger } from 'pino';
import type { ApiServer } from '../api';
import { CLUSTER_KEY } from '../cluster/cluster-info';
import type { Store } from '../store/store';
import { listenBeforeCluster, parseListen, type Config, type ListenAddress } from './config';

export interface ApiListen {
  /** Where the API listens from the start. */
  now: ListenAddress;
  /** Where it moves once the cluster is created; absent when it is there already. */
  atCreation?: ListenAddress;
}

export function apiListen(config: Pick<Config, 'api'>, store: Store): ApiListen {
  const configured = parseListen(config.api.listen);
  if (clusterCreated(store)) return { now: configured };
  const before = listenBeforeCluster(config.api);
  const same = before.host === configured.host && before.port === configured.port;
  return same ? { now: configured } : { now: before, atCreation: configured };
}

const clusterCreated = (store: Store) => store.get(CLUSTER_KEY) !== undefined;

/**
 * Moves `api` to `to` when the cluster is created (or already is). If `to` cannot be
 * listened at, the API goes back to where it was and the error is logged. Returns the
 * unsubscribe.
 */
export function moveApiAtCreation(
  store: Store,
  api: Pick<ApiServer, 'address' | 'relisten'>,
  to: ListenAddress,
  logger: Logger,
): () => void {
  let moving: Promise<void> | undefined;
  const move = () => {
    moving ??= relisten(api, to, logger);
  };
  const unwatch = store.watch(CLUSTER_KEY, move);
  if (clusterCreated(store)) move(); // created while the API was starting
  return unwatch;
}

async function relisten(
  api: Pick<ApiServer, 'address' | 'relisten'>,
  to: ListenAddress,
  logger: Logger,
): Promise<void> {
  const from = api.address;
  try {
    await api.relisten(to);
    logger.info({ from, to: api.address }, 'cluster created: the API moved to api.listen');
  } catch (err) {
    logger.error(
      { listen: to, reason: (err as Error).message },
      'cannot listen at api.listen; the API stays at its bootstrap address until a restart',
    );
    await api
      .relisten(from)
      .catch((again: Error) =>
        logger.error({ reason: again.message }, 'the API listens nowhere: restart ekmd'),
      );
  }
}
