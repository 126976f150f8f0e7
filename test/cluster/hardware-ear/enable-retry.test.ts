// Which drives Enable tries, against the real simulator and the dev key server: drives
// whose AK the key server refused (no PIN ever reached the drive) are provisioned by the
// next Enable; a drive that refused a PIN (here: the MSID, during an erase) is never tried
// again, by Enable or AddDrives, so its Tries counter never climbs past that one refusal.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { listDriveRecords, putDrive } from '../../../src/cluster/drives/drive-records';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { DevKmipServer } from '../../../src/kmip/server';
import { addProvider } from '../sear/eks-setup';
import { createCluster, startEarNode, waitForEarState } from './ear-node';

t.test(
  'Enable retries drives the key server failed, never a drive that refused a PIN',
  async (t) => {
    const node = await startEarNode(t, {
      drives: 3,
      tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
    });
    const pki = await makeDevPki(join(node.dir, 'pki'));
    const read = (p: string) => readFileSync(p, 'utf8');
    const kms = await DevKmipServer.start({
      stateDir: join(node.dir, 'eks'),
      host: '127.0.0.1',
      port: 0,
      ca: read(pki.ca),
      cert: read(pki.server.cert),
      key: read(pki.server.key),
    });
    t.teardown(() => kms.close());
    await createCluster(node);
    const { keyProviderID } = await addProvider(node, pki, kms.address.port);
    const records = () => listDriveRecords(node.store).sort((a, b) => a.slot - b.slot);
    const sim = () => node.sim.status().drives;

    // Drive 2 is owned by someone else; an erase finds out (one refused TAKE_OWNERSHIP).
    await node.opal(2).takeOwnership(Buffer.from('someone-elses-pin'));
    const foreign = records()[2]!;
    const { asyncHandle } = await node.client.ok('SecureEraseDrives', {
      drives: [foreign.driveID],
    });
    await node.settle();
    t.match((await node.client.ok('GetAsyncResult', { asyncHandle })).error, {
      name: 'xSecureEraseFailed',
    });
    t.equal(sim()[2]!.tries.sid, 1, 'the erase presented the MSID once');
    node.sim.powerCycle(2);
    t.equal(sim()[2]!.tries.sid, 0, 'the power cycle cleared the counter: a retry would show');

    t.test(
      'the next Enable secures the drives a key server failed, not the foreign one',
      async (t) => {
        // The state a Register refused item by item leaves (provision(): the AK retired, the
        // drive failed before any PIN); the dev key server can only fail whole messages.
        await node.store.transaction((tx) => {
          for (const d of records().slice(0, 2)) {
            putDrive(tx, {
              ...d,
              security: 'failed',
              keyID: null,
              keyProviderID: null,
              driveSecurityFaultReason: 'key server: Register failed (Permission Denied)',
            });
          }
        });
        await node.client.ok('EnableEncryptionAtRest', { keyProviderID });
        await waitForEarState(node, 'enabled');
        await node.settle();
        const [a, b, c] = records();
        for (const d of [a!, b!]) {
          t.match(d, { security: 'enabled', keyProviderID, driveSecurityFaultReason: 'none' });
          t.match(sim()[d.slot], { lsp: 'manufactured', ranges: [{ rle: true, wle: true }] });
          t.equal(sim()[d.slot]!.tries.sid, 0, 'owned at the first attempt');
        }
        t.match(c, {
          security: 'none',
          keyID: null,
          driveSecurityFaultReason: 'already owned; PSID revert needed',
        });
        t.equal(sim()[2]!.tries.sid, 0, 'the drive that refused the MSID was not tried again');
      },
    );

    t.test('AddDrives does not try the refusing drive either', async (t) => {
      const { asyncHandle } = await node.client.ok('AddDrives', {
        drives: [{ driveID: foreign.driveID }],
      });
      await node.settle();
      const r = await node.client.ok('GetAsyncResult', { asyncHandle });
      t.equal(r.error?.name, 'xEnableDriveSecurityFailed');
      t.match(r.error?.message, /already owned/);
      t.equal(sim()[2]!.tries.sid, 0);
    });
  },
);
