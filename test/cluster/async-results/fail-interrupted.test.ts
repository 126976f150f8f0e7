// At a node's start the async results still running died with its previous process and are
// failed, except those of types a journal of their own settles (the master's rekey): those
// stay running for the cluster master to finish or roll back, and requests another node
// recorded for this one and not taken yet (their intent waits: nothing of them happened).
import t from 'tap';
import { join } from 'node:path';
import { AsyncResultService } from '../../../src/cluster/async-results/async-results';
import { intentPending, putIntent } from '../../../src/cluster/drives/drive-intents';
import { REKEY_RESULT_TYPE } from '../../../src/cluster/sear/rekey';
import { openSqliteStore } from '../../../src/store';
import { tempDir } from '../../store/tmpdir';

t.test('running results are failed, a rekey left to its journal', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  const results = new AsyncResultService(store);
  const [erase, rekey] = await store.transaction((tx) => [
    results.start(tx, 'DriveSecureErase', { driveIDs: [1] }),
    results.start(tx, REKEY_RESULT_TYPE, { operation: 'rekey' }),
  ]);
  t.same(await results.failInterrupted([REKEY_RESULT_TYPE]), [erase]);
  const byHandle = new Map(results.list().map((r) => [r.asyncResultID, r]));
  t.match(byHandle.get(erase!), {
    completed: true,
    success: false,
    data: { name: 'xAsyncOperationInterrupted' },
  });
  t.match(byHandle.get(rekey!), { completed: false }, 'the rekey still runs');
});

t.test('a request still waiting for this node is left to it', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  const results = new AsyncResultService(store);
  const [taken, waiting] = await store.transaction((tx) => {
    const handles = [1, 2].map(() => results.start(tx, 'DriveAdd', { driveIDs: [1] }));
    const asyncHandle = handles[1]!;
    putIntent(tx, {
      kind: 'addDrives',
      driveIDs: [1],
      drives: [{ driveID: 1 }],
      nodeID: 1,
      asyncHandle,
      requestedBy: 2,
    });
    return handles;
  });
  t.same(await results.failInterrupted([], intentPending), [taken], 'only the one taken');
  t.ok(results.isRunning(store, waiting!), 'the waiting one still runs');
});
