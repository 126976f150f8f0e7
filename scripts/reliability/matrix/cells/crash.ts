// kill -9 of ekmd at every step of EnableEncryptionAtRest (the EKMD_TEST_HOOKS crash
// points): the next start resumes or rolls back every drive. The rekey's crash points are
// in rekey-crash.ts.
import { readFileSync } from 'node:fs';
import type { CrashPoint } from '../../../../src/cluster/test-hooks';
import type { Cell } from '../cell';
import { checkInvariants, earScenario } from '../scenario';

export const ENABLE_CRASH_POINTS: CrashPoint[] = [
  'ear.afterRegister',
  'ear.afterRecord',
  'ear.afterTakeOwnership',
  'ear.afterActivate',
  'ear.afterRangeSetup',
  'ear.afterEnable',
];

/** Live (not destroyed) objects in a dev key server's object file. */
function liveObjects(file: string): number {
  const { objects } = JSON.parse(readFileSync(file, 'utf8')) as {
    objects: { material?: string }[];
  };
  return objects.filter((o) => o.material !== undefined).length;
}

/** `ci`: the CI subset runs one crash point, the matrix all of them. */
export function crashCell(point: CrashPoint, ci = false): Cell {
  return {
    name: `kill -9 at ${point}`,
    expected:
      'ekmd killed (SIGKILL) at this step of enable-EAR; restarted, EAR reaches enabled; ' +
      'every drive is either keyed (locks, and unlocks with its AK after a power cycle) or ' +
      'rolled back (factory-owned, reason reported); no drive left provisioning; live AKs ' +
      'at the EKS = keyed drives (no orphan); invariants hold',
    eks: 'dev',
    ci,
    async run(ctx, seen) {
      const s = await earScenario(ctx, seen, { enable: false });
      const { node, eks } = s;
      await node.stopEkmd();
      await node.startEkmd({ EKMD_TEST_HOOKS: `crash:${point}` });
      await node.rpc.call('EnableEncryptionAtRest', { keyProviderID: s.keyProviderID }).catch(
        () => undefined, // killed while answering
      );
      const exit = await Promise.race([
        node.ekmd!.exited,
        new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
      ]);
      seen.expect(exit?.signal === 'SIGKILL', `killed at ${point}`, JSON.stringify(exit));
      const t0 = Date.now();
      await seen.step('restarts', node.startEkmd());
      await seen.step('EAR enabled after restart', node.waitEarState('enabled'));
      seen.note(`enabled ${Date.now() - t0} ms after the restart`);
      const drives = await node.drives();
      const keyed = drives.filter((d) => d.keyID);
      const rolledBack = drives.filter((d) => !d.keyID);
      seen.note(`${keyed.length} keyed, ${rolledBack.length} rolled back`);
      seen.expect(
        rolledBack.every((d) => d.driveSecurityFaultReason !== 'none'),
        'each rolled-back drive reports why',
      );
      const st = await node.simStatus();
      const factory = rolledBack.every(
        (d) => st.find((x) => x.serial === d.serial)?.lsp === 'manufactured-inactive',
      );
      seen.expect(factory, 'rolled-back drives are factory-owned (no PIN nobody holds)');
      const live = liveObjects(eks!.objectFile);
      seen.expect(live === keyed.length, `live AKs at the EKS: ${live}`, `keyed ${keyed.length}`);
      await checkInvariants(node, seen);
    },
  };
}
