// The master key rekey is the cluster master's work: two nodes on one etcd prefix, each
// with its SEAR service (rekeyOnMaster) and its node service. A rekey asked of the follower
// is taken and run by the master (the journal names the master's term); a rekey a master
// took and did not finish (the store as a master killed then leaves it) is rolled back by
// the node elected after it, and its async result says so.
import t from 'tap';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startEtcd } from '../../../scripts/etcd/members';
import { AsyncResultService } from '../../../src/cluster/async-results/async-results';
import { ClusterService } from '../../../src/cluster/cluster-info';
import { NodeScope } from '../../../src/cluster/drives/node-scope';
import { FaultService } from '../../../src/cluster/faults';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import {
  MASTER_KEY,
  pendingNodeKey,
  type MasterRecord,
  type NodeIdentity,
  type PendingNodeRecord,
} from '../../../src/cluster/nodes/node-records';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import { REKEY_RESULT_TYPE } from '../../../src/cluster/sear/rekey';
import { SearService } from '../../../src/cluster/sear/sear-service';
import {
  getJournal,
  getSearState,
  putJournal,
  putSearState,
} from '../../../src/cluster/sear/sear-store';
import { UnsupportedDataPath } from '../../../src/daemon/sear-wiring';
import { openSealer, type Json, type Store } from '../../../src/store';
import { tempDir } from '../../store/tmpdir';
import { client, etcdBackend } from '../../store/contract/backends';
import { until } from '../../helpers/until';

const TTL = 2;

interface Node {
  /** What its SEAR service logged (messages). */
  logged: string[];
  store: Store;
  nodes: NodeService;
  sear: SearService;
  results: AsyncResultService;
}

void (async () => {
  const cluster = await startEtcd(t);
  const backend = etcdBackend(cluster.endpoints);

  t.test('rekeys run on the master; an interrupted one ends on the next', async (t) => {
    const location = backend.fresh(t);
    // One sealing root for both nodes: the cluster's sealing key is not shared yet.
    const sealer = openSealer({ stateDir: tempDir(t) });
    const open = async (identity: NodeIdentity): Promise<Node> => {
      const store = await client(t, location);
      const logged: string[] = [];
      const logger = pino(
        { level: 'info' },
        new Writable({
          write(chunk: Buffer, _enc, done) {
            logged.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
            done();
          },
        }),
      );
      const faults = new FaultService(store);
      const results = new AsyncResultService(store);
      const sear = new SearService({
        store,
        sealer,
        dataPath: new UnsupportedDataPath('none'),
        asyncResults: results,
        faults,
        logger,
        rekeyOnMaster: true,
        // Each node re-wraps its own DEKs (it has none here) and records that it did.
        scope: new NodeScope(identity.uuid, true),
      });
      const nodes = new NodeService(store, identity, {
        leaseTtlSeconds: TTL,
      });
      nodes.whileMaster((fence) => sear.masterJob(fence));
      t.teardown(async () => {
        await nodes.close();
        await sear.close();
        faults.close();
      });
      await sear.recover();
      sear.start();
      return { logged, store, nodes, sear, results };
    };
    const a = await open(nodeIdentity(tempDir(t), { name: 'a', ip: '10.0.0.1' }));
    await a.nodes.start();
    await new ClusterService(a.store, { nodes: a.nodes }).create({
      acceptEula: true,
      mvip: '10.0.0.10',
      svip: '10.0.1.10',
      nodes: ['10.0.1.1'],
      username: 'admin',
      password: 'a long enough password',
      enableSoftwareEncryptionAtRest: true,
    });
    await until('SEAR enabled', () => getSearState(a.store) !== undefined);
    const idB = nodeIdentity(tempDir(t), { name: 'b', ip: '10.0.0.2' });
    const b = await open(idB);
    const pendingLease = await b.store.grantLease(TTL);
    const pending: PendingNodeRecord = { ...idB, pendingNodeID: 1 };
    await pendingLease.put(pendingNodeKey(idB.uuid), pending as unknown as Json);
    await until('node 1 sees node 2 pending', () => a.nodes.pending().length === 1);
    await a.nodes.add([1]);
    await pendingLease.revoke();
    await until('node 2 sees itself added', () => b.nodes.selfRecord() !== undefined);
    await b.nodes.start();
    t.ok(a.nodes.isMaster() && !b.nodes.isMaster(), 'node 1 master, node 2 follows');

    const first = getSearState(b.store)!.currentKeyID;
    const handle = await b.sear.rekey({ keyManagementType: 'Internal' });
    await until('the rekey is done', () => {
      const r = b.results.list([REKEY_RESULT_TYPE]).find((x) => x.asyncResultID === handle);
      return r?.completed === true;
    });
    const done = b.results.list([REKEY_RESULT_TYPE]).find((x) => x.asyncResultID === handle)!;
    t.ok(done.success, 'the rekey asked of node 2 succeeded');
    t.ok(a.logged.includes('master key rekey complete'), 'run by node 1, the master');
    t.notOk(b.logged.includes('master key rekey complete'), 'not by node 2');
    t.not(getSearState(b.store)!.currentKeyID, first, 'a new master key is current');
    t.equal(getJournal(b.store), undefined, 'its journal is gone');

    // The store as a master killed after taking a rekey leaves it: journal `started`, taken
    // by a term that no longer runs, its async result running.
    const interrupted = await a.store.transaction((tx) => {
      const state = getSearState(tx)!;
      const asyncHandle = a.results.start(tx, REKEY_RESULT_TYPE, { operation: 'test' });
      putJournal(tx, {
        asyncHandle,
        phase: 'started',
        from: { keyID: state.currentKeyID, keyManagementType: 'internal' },
        to: { keyID: '00000000-0000-4000-8000-000000000001', keyManagementType: 'internal' },
        takenBy: 'a-term-that-ended',
      });
      putSearState(tx, { ...state, rekeyAsyncResultID: asyncHandle });
      return asyncHandle;
    });
    // A master in its term resumes whenever the journal changes: node 1 rolls it back.
    await until('rolled back', () =>
      b.results
        .list([REKEY_RESULT_TYPE])
        .some((r) => r.asyncResultID === interrupted && r.completed),
    );
    const rolledBack = b.results
      .list([REKEY_RESULT_TYPE])
      .find((r) => r.asyncResultID === interrupted)!;
    t.match(rolledBack, {
      success: false,
      data: {
        name: 'xSoftwareEncryptionAtRestRekeyRolledBack',
        message: /change of cluster master/,
      },
    });
    t.equal(getJournal(a.store), undefined);

    // The same, left `created` under the name of the term running now (a single node's lease
    // IDs start over after a restart): not this process's rekey, so rolled back too.
    const term = a.store.get<MasterRecord>(MASTER_KEY)!.value.lease!;
    const sameName = await a.store.transaction((tx) => {
      const state = getSearState(tx)!;
      const asyncHandle = a.results.start(tx, REKEY_RESULT_TYPE, { operation: 'test' });
      putJournal(tx, {
        asyncHandle,
        phase: 'created',
        from: { keyID: state.currentKeyID, keyManagementType: 'internal' },
        to: { keyID: '00000000-0000-4000-8000-000000000002', keyManagementType: 'internal' },
        takenBy: term,
      });
      return asyncHandle;
    });
    await until('rolled back though its term has the same name', () =>
      b.results.list([REKEY_RESULT_TYPE]).some((r) => r.asyncResultID === sameName && r.completed),
    );
    t.match(
      b.results.list([REKEY_RESULT_TYPE]).find((r) => r.asyncResultID === sameName),
      {
        success: false,
        data: { name: 'xSoftwareEncryptionAtRestRekeyRolledBack' },
      },
    );

    // Node 1 stops; node 2, elected, runs the next rekey asked of it.
    await a.nodes.close();
    await until('node 2 is master', () => b.nodes.isMaster(), 10_000);
    const before = getSearState(b.store)!.currentKeyID;
    const next = await b.sear.rekey({ keyManagementType: 'Internal' });
    await until('the rekey on the new master is done', () =>
      b.results.list([REKEY_RESULT_TYPE]).some((r) => r.asyncResultID === next && r.completed),
    );
    t.ok(b.results.list([REKEY_RESULT_TYPE]).find((r) => r.asyncResultID === next)!.success);
    t.ok(b.logged.includes('master key rekey complete'), 'run by node 2, the new master');
    t.not(getSearState(b.store)!.currentKeyID, before);
  });
})();
