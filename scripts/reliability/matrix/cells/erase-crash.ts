// kill -9 of ekmd during SecureEraseDrives of a drive under hardware EAR, right before and
// right after REVERT_TPR (the EKMD_TEST_HOOKS crash points of eraseDrive, in
// src/cluster/hardware-ear/secure-erase.ts):
// the next start finishes the erase from the journal on the drive record, with the key
// server refusing at first so that any request for the old AK would show as a fault.
import { readFileSync } from 'node:fs';
import type { CrashPoint } from '../../../../src/cluster/test-hooks';
import { akName } from '../../../../src/cluster/drive-keys/kmip-keys';
import { State } from '../../../../src/kmip/ttlv';
import type { Cell } from '../cell';
import { until } from '../node';
import { checkInvariants, earScenario } from '../scenario';

export const ERASE_CRASH_POINTS: CrashPoint[] = ['erase.afterJournal', 'erase.afterRevert'];

/** The erased drive's index. */
const SLOT = 1;

/** The dev key server's object named `name`: whether it still holds material, its state. */
function eksObject(file: string, name: string): { live: boolean; state: number } | undefined {
  const { objects } = JSON.parse(readFileSync(file, 'utf8')) as {
    objects: { material?: string; state: number; attributes: { names?: string[] } }[];
  };
  const o = objects.find((x) => x.attributes.names?.includes(name));
  return o && { live: o.material !== undefined, state: o.state };
}

export function eraseCrashCell(point: CrashPoint, ci = false): Cell {
  return {
    name: `kill -9 at ${point} (SecureEraseDrives)`,
    expected:
      'ekmd killed (SIGKILL) at this step of SecureEraseDrives of a drive under EAR; ' +
      'restarted with the key server refusing: no fault (boot unlock asks for no key); ' +
      'once it answers, the drive is erased (factory state, data gone), available with no ' +
      'keyID, and its old AK is destroyed at the EKS; the other drives keep keys and data',
    eks: 'dev',
    ci,
    async run(ctx, seen) {
      const { node, eks } = await earScenario(ctx, seen);
      const eksServer = eks!;
      const uuid = (await node.rpc.ok('GetClusterInfo')).clusterInfo.uuid as string;
      const drive = (await node.drives()).find((d) => d.slot === SLOT)!;
      const name = akName(uuid, { serial: drive.serial, keyID: drive.keyID });
      await node.stopEkmd();
      await node.startEkmd({ EKMD_TEST_HOOKS: `crash:${point}` });
      await node.rpc.call('SecureEraseDrives', { drives: [drive.driveID] }).catch(() => undefined); // killed while answering
      const exit = await Promise.race([
        node.ekmd!.exited,
        new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
      ]);
      seen.expect(exit?.signal === 'SIGKILL', `killed at ${point}`, JSON.stringify(exit));
      // A power loss, not only a crash: the drive relocks if it was not reverted.
      await node.simOp({ op: 'power-cycle', drive: SLOT });

      eksServer.inject('refuse');
      await seen.step('restarts', node.startEkmd());
      await seen.step(
        'recovery waits for the EKS',
        node.ekmd!.waitFor(/AK destroy deferred|interrupted erase not finished yet/),
      );
      const early = await node.faultCodes();
      seen.expect(early.length === 0, 'no fault while the EKS refuses', early.join(', '));
      eksServer.inject('clear');
      const after = await seen.step(
        'drive erased and available, no keyID',
        until(
          'the drive erased',
          async () => {
            const d = (await node.drives()).find((x) => x.driveID === drive.driveID)!;
            return d.status === 'available' && !('keyID' in d) && d;
          },
          30_000,
        ),
      );
      seen.expect(after.driveSecurityFaultReason === 'none', 'no drive security fault reason');
      const sim = (await node.simStatus())[SLOT]!;
      seen.expect(
        sim.lsp === 'manufactured-inactive' && !sim.locked,
        'the drive is in factory state',
      );
      await seen.step(
        'old AK destroyed at the EKS',
        until(
          'the old AK destroyed',
          async () => !eksObject(eksServer.objectFile, name)?.live,
          20_000,
        ),
      );
      seen.expect(
        eksObject(eksServer.objectFile, name)?.state === State.Destroyed,
        'its state is Destroyed',
      );
      const bad = (await node.checkData()).split('; ').filter((l) => l);
      seen.expect(
        bad.every((l) => l.startsWith(`drive ${SLOT} `)) && bad.length > 0,
        'the erased drive lost its data, the others kept theirs',
        bad.join('; '),
      );
      await checkInvariants(node, seen, [SLOT]);
      const faults = await node.faultCodes();
      seen.expect(faults.length === 0, 'no fault left', faults.join(', '));
    },
  };
}
