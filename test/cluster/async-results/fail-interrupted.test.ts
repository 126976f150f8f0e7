// At a node's start the async results still running died with its previous process and are
// failed, except those of types a journal of their own settles (the master's rekey): those
// stay running for the cluster master to finish or roll back.
import t from 'tap';
import { join } from 'node:path';
import { AsyncResultService } from '../../../src/cluster/async-results/async-results';
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
