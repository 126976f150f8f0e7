// A revert whose answer is lost (the drive reverted, ekmd saw EIO): the erase is reported
// failed, but the drive stays journaled `erasing` rather than going back to available on
// its old AK; the retry that follows finds it reverted and finishes the erase.
import t from 'tap';
import { constants } from 'node:os';
import { join } from 'node:path';
import { AsyncResultService } from '../../../src/cluster/async-results/async-results';
import { getDrive } from '../../../src/cluster/drives/drive-records';
import { DriveService } from '../../../src/cluster/drives/drives';
import type { DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { HardwareEarService } from '../../../src/cluster/hardware-ear/hardware-ear';
import { IOC_OPAL_REVERT_TPR } from '../../../src/opal/abi';
import type { DriveTransport, IoctlResult } from '../../../src/opal/transport';
import { SimInventory } from '../../../src/opal/sim-socket/inventory';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import { openSealer, openSqliteStore } from '../../../src/store';
import { createCluster, startEarNode, waitForEarState } from './ear-node';

/** Passes everything through; the first REVERT_TPR reaches the drive, its answer is lost. */
class LostRevertAnswer implements DriveTransport {
  lost = 0;
  constructor(private readonly inner: SimTransport) {}
  open(path: string): Promise<number> {
    return this.inner.open(path);
  }
  async ioctl(fd: number, request: number, buf: Buffer): Promise<IoctlResult> {
    const r = await this.inner.ioctl(fd, request, buf);
    if (request !== IOC_OPAL_REVERT_TPR.request || this.lost++ > 0) return r;
    return { rc: -1, errno: constants.errno.EIO };
  }
  close(fd: number): Promise<void> {
    return this.inner.close(fd);
  }
}

t.test('a revert whose answer was lost is finished by the retry', async (t) => {
  const node = await startEarNode(t, { drives: 2 });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const pattern = Buffer.alloc(512, 0x3c);
  node.sim.drives[1]!.writeBlock(3, pattern);
  const target = node.hw.drives.records()[1]!;
  t.ok(target.keyID);
  await node.close();

  const store = openSqliteStore(join(node.dir, 'ekmd.db'));
  const sim = new SimTransport(node.socket);
  const transport = new LostRevertAnswer(sim);
  const asyncResults = new AsyncResultService(store);
  const drives = new DriveService(store, new SimInventory(node.socket), asyncResults);
  const ear = new HardwareEarService({
    store,
    sealer: openSealer({ stateDir: node.dir }),
    transport,
    retryMaxDelayMs: 1000,
  });
  drives.setSecurer(ear);
  t.teardown(async () => {
    await drives.stop();
    await ear.close();
    await drives.inventory.close();
    await sim.end();
    await store.close();
  });
  await drives.start();
  ear.recover();
  await ear.idle();

  const handle = await drives.secureErase([target.driveID]);
  await drives.idle();
  t.equal(transport.lost, 1, 'the revert was sent once, its answer lost');
  t.match(await asyncResults.get(handle), {
    status: 'complete',
    error: { name: 'xSecureEraseFailed' },
  });
  const unsettled = getDrive(store, target.driveID);
  t.match(unsettled, { status: 'erasing', step: 'erasing', keyID: target.keyID });
  t.match(unsettled.erase, { sidKeyID: target.keyID, lockingEnabled: true });

  const deadline = Date.now() + 30_000;
  while (getDrive(store, target.driveID).step === 'erasing' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  await ear.idle();
  const after = getDrive(store, target.driveID);
  t.match(after, { status: 'available', security: 'none', step: null, keyID: null });
  t.notOk('erase' in after);
  t.equal(transport.lost, 1, 'no second revert: status showed the first one had happened');
  t.notSame(node.sim.drives[1]!.readBlock(3), pattern, 'data gone');
  const key = store.get<DriveKeyRecord>(`keys/${target.keyID}`)!.value;
  t.equal(key.state, 'destroyed', 'the old AK is retired');
});
