// The drives misbehave: one holds a PIN that is not its AK, one is pulled and pushed
// back, one answers every ioctl and block with EIO.
import { randomBytes } from 'node:crypto';
import { OpalUser } from '../../../../src/opal/abi';
import { OpalDrive } from '../../../../src/opal/drive';
import { SimTransport } from '../../../../src/opal/sim-socket/transport';
import type { Cell } from '../cell';
import { akUid, eksClient } from '../eks-client';
import { until } from '../node';
import { checkInvariants, earScenario, maxTries } from '../scenario';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const wrongKey: Cell = {
  name: 'wrong key on a drive',
  expected:
    'a drive whose Admin1 PIN is not its AK (changed behind ekmd): exactly one attempt ' +
    '(Tries 1), driveFailed names it; not tried again after an ekmd restart (Tries stays 1) ' +
    'or a relock (a hot plug resets Tries; it stays 0): the TryLimit guard lasts until the key ' +
    'or the machine boot (boot_id) changes, so this boot the drive stays failed by design; ' +
    'the operator can still open it with the AK from the EKS (key not lost, data intact)',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    const { node, eks } = await earScenario(ctx, seen);
    const client = eksClient(ctx.pki, eks!.port);
    seen.teardown(() => client.close());
    const ak = (await client.get(await akUid(node, client, 0))).material;
    client.close();
    const wrong = randomBytes(32);
    seen.teardown(() => {
      ak.fill(0);
      wrong.fill(0);
    });
    const transport = new SimTransport(node.socket);
    seen.teardown(() => transport.end());
    const path = (await node.simStatus())[0]!.path;
    const drive = new OpalDrive(transport, path);
    // OpalDrive zeroes the PINs it is given: each call gets its own copy.
    const pin = (b: Buffer) => Buffer.from(b);
    await node.stopEkmd();
    await drive.setPin({ who: OpalUser.ADMIN1, pin: pin(ak) }, OpalUser.ADMIN1, pin(wrong));
    await node.powerCycle();
    await node.startEkmd();
    const failed = await seen.step('driveFailed raised', node.waitFault('driveFailed'));
    seen.expect(failed.driveIDs.length === 1, `driveFailed names ${failed.driveIDs.length} drive`);
    await seen.step(
      'the other drives unlock',
      until(
        'others unlocked',
        async () => {
          const st = await node.simStatus();
          return !st[1]!.locked && !st[2]!.locked;
        },
        20_000,
      ),
    );
    const tries = async () => (await node.simStatus())[0]!.tries.admin1;
    seen.expect((await tries()) === 1, 'one attempt: Tries 1');
    await node.stopEkmd();
    await node.startEkmd();
    await sleep(1500);
    const afterRestart = await tries();
    seen.expect(
      afterRestart === 1,
      'not retried after an ekmd restart: Tries 1',
      `Tries ${afterRestart}`,
    );
    // A hot plug resets the counter: any retry would now show as 1.
    await node.simOp({ op: 'unplug', drive: 0 });
    await node.simOp({ op: 'plug', drive: 0 });
    await sleep(1500);
    const afterRelock = await tries();
    seen.expect(afterRelock === 0, 'not retried after a relock: Tries 0', `Tries ${afterRelock}`);
    // The operator puts the AK back; this boot the guard still holds (by design).
    await drive.setPin({ who: OpalUser.ADMIN1, pin: pin(wrong) }, OpalUser.ADMIN1, pin(ak));
    await checkInvariants(node, seen, [0]);
    const st = (await node.simStatus())[0]!;
    seen.expect(st.locked && st.tries.admin1 === 0, 'guarded drive left locked this boot, untried');
    await drive.unlock({ who: OpalUser.ADMIN1, pin: pin(ak) }, 0);
    const bad = await node.checkData();
    seen.expect(bad === '', 'opens with the AK from the EKS; no data lost', bad);
    seen.expect((await maxTries(node)) <= 1, 'Tries ≤ 1 at the end');
  },
};

export const unplugReplug: Cell = {
  name: 'drive unplugged and replugged',
  expected:
    'the other drives keep serving; plugged back, the drive comes back locked and is ' +
    'unlocked with its AK (one Get), no fault left, Tries 0; invariants hold',
  eks: 'dev',
  ci: false,
  async run(ctx, seen) {
    const { node } = await earScenario(ctx, seen);
    await node.simOp({ op: 'unplug', drive: 2 });
    await sleep(1000);
    const gone = (await node.drives()).find((d) => d.slot === 2);
    seen.note(`while out: ListDrives ${gone ? `status ${gone.status}` : 'has no drive in slot 2'}`);
    const codes = await node.faultCodes();
    seen.note(`faults while out: ${codes.join(',') || 'none'}`);
    const st = await node.simStatus();
    seen.expect(!st[0]!.locked && !st[1]!.locked, 'other drives still unlocked');
    await node.simOp({ op: 'plug', drive: 2 });
    const t0 = Date.now();
    await seen.step('replugged drive unlocked', node.waitUnlocked());
    seen.note(`unlocked ${Date.now() - t0} ms after plug`);
    await seen.step('no fault left', node.waitNoFaults());
    seen.expect((await maxTries(node)) === 0, 'Tries 0');
    await checkInvariants(node, seen);
  },
};

export const driveIoErrors: Cell = {
  name: 'drive I/O errors',
  expected:
    'a drive answering EIO when the drives relock (power cycle under ekmd): the others ' +
    'unlock, driveFailed names it, no Tries spent; retried with backoff, it unlocks and the ' +
    'fault resolves once the errors stop; invariants hold',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    const { node } = await earScenario(ctx, seen);
    await node.simOp({ op: 'inject', drive: 1, fault: 'io-error' });
    await node.powerCycle();
    await seen.step(
      'the other drives unlock',
      until(
        'others unlocked',
        async () => {
          const st = await node.simStatus();
          return !st[0]!.locked && !st[2]!.locked;
        },
        20_000,
      ),
    );
    const failed = await seen.attempt('driveFailed raised', node.waitFault('driveFailed', 6_000));
    if (failed) seen.note(`driveFailed names ${failed.driveIDs.length} drive(s)`);
    seen.expect((await node.simStatus())[1]!.tries.admin1 === 0, 'no Tries spent on EIO');
    await node.simOp({ op: 'inject', drive: 1, fault: 'clear' });
    const t0 = Date.now();
    const open = await seen.attempt(
      'drive unlocked once the errors stop',
      node.waitUnlocked(8_000),
    );
    if (open !== undefined) seen.note(`unlocked ${Date.now() - t0} ms after the errors stopped`);
    await seen.attempt('no fault left', node.waitNoFaults(5_000));
    await checkInvariants(node, seen);
  },
};
