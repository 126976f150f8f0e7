// The store contract on etcd, one member (started for this file, stopped after it).
import t from 'tap';
import { startEtcd } from '../../../scripts/etcd/members';
import { etcdBackend } from './backends';
import { runContract } from './index';

void (async () => {
  const cluster = await startEtcd(t);
  t.comment(`one etcd member healthy in ${cluster.startMs} ms`);
  runContract(t, etcdBackend(cluster.endpoints));
})();
