// The key server unreachable: down at boot, down while running when a drive relocks, too
// slow to answer within requestTimeoutMs.
import type { Cell } from '../cell';
import { faultCause } from '../node';
import { checkInvariants, earScenario } from '../scenario';

export const eksDownAtBoot: Cell = {
  name: 'EKS down at boot',
  expected:
    'drives stay locked; kmipServerFault + driveFailed raised; retried with capped backoff; ' +
    'both resolve and every drive unlocks once the EKS is back; invariants hold',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    const { node, eks } = await earScenario(ctx, seen);
    await node.stopEkmd();
    await eks!.down();
    await node.powerCycle();
    await node.startEkmd();
    await seen.step('kmipServerFault raised', node.waitFault('kmipServerFault'));
    const failed = await seen.step('driveFailed raised', node.waitFault('driveFailed'));
    seen.expect(failed.driveIDs.length === 3, `driveFailed names ${failed.driveIDs.length} drives`);
    const locked = (await node.simStatus()).filter((s) => s.locked).length;
    seen.expect(locked === 3, `${locked}/3 drives locked while the EKS is down`);
    await eks!.up();
    const t0 = Date.now();
    await seen.step('faults resolved after the EKS returned', node.waitNoFaults());
    await seen.step('drives unlocked after the EKS returned', node.waitUnlocked());
    seen.note(`resolved ${Date.now() - t0} ms after the EKS returned`);
    await checkInvariants(node, seen);
  },
};

export const eksDownMidRun: Cell = {
  name: 'EKS down mid-run, drive relocks',
  expected:
    'drives already unlocked keep serving; the relocked drive (unplug/plug) stays locked with ' +
    'kmipServerFault + driveFailed naming it; both resolve when the EKS returns; invariants hold',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    const { node, eks } = await earScenario(ctx, seen);
    await eks!.down();
    await node.simOp({ op: 'unplug', drive: 1 });
    await node.simOp({ op: 'plug', drive: 1 });
    await seen.step('kmipServerFault raised', node.waitFault('kmipServerFault'));
    const failed = await seen.step('driveFailed raised', node.waitFault('driveFailed'));
    const ids = (await node.drives()).filter((d) => d.slot === 1).map((d) => d.driveID);
    seen.expect(
      JSON.stringify(failed.driveIDs) === JSON.stringify(ids),
      `driveFailed names the relocked drive only`,
      `driveIDs ${failed.driveIDs}`,
    );
    const st = await node.simStatus();
    seen.expect(
      st[1]!.locked && !st[0]!.locked && !st[2]!.locked,
      'only the relocked drive is locked',
    );
    await eks!.up();
    await seen.step('faults resolved after the EKS returned', node.waitNoFaults());
    await seen.step('drive unlocked', node.waitUnlocked());
    await checkInvariants(node, seen);
  },
};

export const eksSlow: Cell = {
  name: 'EKS slow (beyond requestTimeoutMs)',
  expected:
    'with requestTimeoutMs 1500 and the EKS answering after 4 s: the Get times out, ' +
    'kmipServerFault + driveFailed raised, nothing hangs; resolved when the delay is cleared',
  eks: 'dev',
  ci: false,
  async run(ctx, seen) {
    const { node, eks } = await earScenario(ctx, seen, { kmip: { requestTimeoutMs: 1500 } });
    await node.stopEkmd();
    eks!.inject('delay', '4000');
    await node.powerCycle();
    await node.startEkmd();
    const f = await seen.step('kmipServerFault raised', node.waitFault('kmipServerFault'));
    seen.note(`details: ${faultCause(f.details)}`);
    await seen.step('driveFailed raised', node.waitFault('driveFailed'));
    const api = Date.now();
    await node.rpc.ok('GetClusterInfo');
    seen.expect(Date.now() - api < 1000, 'API answers while the EKS is slow');
    eks!.inject('clear');
    await seen.step('faults resolved after the delay was cleared', node.waitNoFaults());
    await seen.step('drives unlocked', node.waitUnlocked());
    await checkInvariants(node, seen);
  },
};
