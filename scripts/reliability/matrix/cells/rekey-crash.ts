// kill -9 of ekmd at every step of a software-EAR master key rekey internal → external (the
// EKMD_TEST_HOOKS crash points of src/cluster/sear/rekey.ts): the next start finishes a
// committed rekey and rolls back any other, GetAsyncResult and GetSoftwareEncryptionAtRestInfo
// agree on which, every DEK still unwraps (the simulator refuses a wrong DEK) and the key
// server holds exactly the current master key, nothing a rollback left behind.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CrashPoint } from '../../../../src/cluster/test-hooks';
import { mkName } from '../../../../src/cluster/sear/master-keys';
import { State } from '../../../../src/kmip/ttlv';
import type { Cell, Observations } from '../cell';
import { FaultyKeyServer } from '../faulty-key-server';
import { MatrixNode, until } from '../node';
import { createKeyServer, createProvider } from '../scenario';

export const REKEY_CRASH_POINTS: CrashPoint[] = [
  'sear.afterCreate',
  'sear.afterNewKey',
  'sear.afterCommit',
  'sear.afterDestroyOld',
];

/** Points after the commit transaction: the restart finishes the rekey. */
const COMMITTED: CrashPoint[] = ['sear.afterCommit', 'sear.afterDestroyOld'];

/** Every object the dev key server ever made, and whether it still holds material. */
function eksKeys(file: string): { names: string[]; state: number; live: boolean }[] {
  const { objects } = JSON.parse(readFileSync(file, 'utf8')) as {
    objects: { material?: string; state: number; attributes: { names?: string[] } }[];
  };
  return objects.map((o) => ({
    names: o.attributes.names ?? [],
    state: o.state,
    live: o.material !== undefined,
  }));
}

/** Every drive's DEK attached, as ekmd and the simulator both see it. */
async function waitDeksAttached(node: MatrixNode, ms = 30_000): Promise<number> {
  return until(
    'every DEK attached',
    async () => {
      const drives = await node.drives();
      const sim = await node.simStatus();
      const info = await node.rpc.ok('GetSoftwareEncryptionAtRestInfo');
      return (
        drives.length === sim.length &&
        !info.detachedDrives &&
        drives.every((d) => d.attributes?.softwareEncryptionAtRest === 'attached') &&
        sim.every((s) => s.dek === 'attached') &&
        sim.length
      );
    },
    ms,
  );
}

/** Data written before the crash reads back once ekmd has attached every DEK. */
async function deksUnwrap(node: MatrixNode, seen: Observations, when: string): Promise<void> {
  const n = await seen.step(`every DEK unwraps ${when}`, waitDeksAttached(node));
  const bad = await node.checkData();
  seen.expect(bad === '', `data reads back on ${n} drives ${when}`, bad);
}

/** `ci`: the CI subset runs one crash point, the matrix all of them. */
export function rekeyCrashCell(point: CrashPoint, ci = false): Cell {
  const committed = COMMITTED.includes(point);
  return {
    name: `kill -9 at ${point} (SEAR rekey internal→external)`,
    expected:
      'ekmd killed (SIGKILL) at this step of a SEAR master key rekey onto the dev key ' +
      `server; restarted, GetAsyncResult reports it ${committed ? 'finished (state Ready)' : 'rolled back (xSoftwareEncryptionAtRestRekeyRolledBack)'}` +
      ` and GetSoftwareEncryptionAtRestInfo agrees (current key ${committed ? 'the new external one' : 'still the internal one'}); ` +
      'every DEK unwraps: data written before reads back on every drive, again after a ' +
      'power cycle + restart; live MKs at the EKS: ' +
      (committed ? 'only the new one, Active' : 'none (the new one destroyed, no orphan)'),
    eks: 'dev',
    ci,
    async run(ctx, seen) {
      const node = await MatrixNode.start({ dir: join(ctx.dir, 'node') });
      seen.teardown(() => node.close());
      await node.startEkmd();
      const csr = await node.createCluster({ enableSoftwareEncryptionAtRest: true });
      await seen.step('DEKs attached under the internal MK', waitDeksAttached(node));
      await node.writePattern();
      const eks = await FaultyKeyServer.start(join(ctx.dir, 'eks'), ctx.pki);
      seen.teardown(() => eks.close());
      const keyServerID = await createKeyServer(ctx, node, csr, { name: 'kms1', port: eks.port });
      const keyProviderID = await createProvider(node, keyServerID);
      const old = (await node.rpc.ok('GetSoftwareEncryptionAtRestInfo')).masterKeyInfo;
      const uuid = (await node.rpc.ok('GetClusterInfo')).clusterInfo.uuid as string;

      await node.stopEkmd();
      await node.startEkmd({ EKMD_TEST_HOOKS: `crash:${point}` });
      const asked = await node.rpc
        .call('RekeySoftwareEncryptionAtRestMasterKey', {
          keyManagementType: 'External',
          keyProviderID,
        })
        .catch(() => undefined); // killed while answering
      const exit = await Promise.race([
        node.ekmd!.exited,
        new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
      ]);
      seen.expect(exit?.signal === 'SIGKILL', `killed at ${point}`, JSON.stringify(exit));

      await seen.step('restarts', node.startEkmd());
      const info = await node.rpc.ok('GetSoftwareEncryptionAtRestInfo');
      const handle = info.rekeyMasterKeyAsyncResultID as number | undefined;
      const givenHandle = asked?.result?.asyncHandle as number | undefined;
      seen.expect(
        handle !== undefined && (givenHandle === undefined || handle === givenHandle),
        `Info names the rekey's async handle ${handle}`,
        `answered ${givenHandle}`,
      );
      const outcome = await seen.step(
        'GetAsyncResult complete',
        until(
          'the rekey complete',
          async () => {
            const r = await node.rpc.ok('GetAsyncResult', { asyncHandle: handle });
            return r.status === 'complete' && r;
          },
          20_000,
        ),
      );
      const current = info.masterKeyInfo;
      let newKeyID: string | undefined;
      if (committed) {
        newKeyID = outcome.result?.newKey?.keyID as string | undefined;
        seen.expect(
          outcome.result?.state === 'Ready' && !outcome.error,
          'GetAsyncResult: finished (state Ready)',
          JSON.stringify(outcome.error ?? outcome.result).slice(0, 200),
        );
        seen.expect(
          current.keyID === newKeyID &&
            current.keyManagementType === 'external' &&
            current.keyProviderID === keyProviderID,
          'Info: the new external key is current',
          JSON.stringify(current),
        );
      } else {
        newKeyID = outcome.error?.keyToDecommission?.keyID as string | undefined;
        seen.expect(
          outcome.error?.name === 'xSoftwareEncryptionAtRestRekeyRolledBack' && !outcome.result,
          'GetAsyncResult: rolled back',
          JSON.stringify(outcome.error ?? outcome.result).slice(0, 200),
        );
        seen.expect(
          current.keyID === old.keyID && current.keyManagementType === 'internal',
          'Info: the internal key is still current',
          JSON.stringify(current),
        );
      }
      const active = (await node.rpc.ok('GetKeyProviderKmip', { keyProviderID })).kmipKeyProvider
        .keyProviderIsActive as boolean;
      seen.expect(active === committed, `provider ${active ? 'active' : 'inactive'}`);

      // The clean-up of a rollback runs in the background: wait for it, then compare.
      // A finished rekey that named no new key matches no Name: a failure, not a pass.
      const want = committed ? [mkName(uuid, newKeyID ?? '(no new key named)')] : [];
      const atEks = () => eksKeys(eks.objectFile).filter((k) => k.live);
      const settled = await until(
        'the EKS settled',
        async () => atEks().length === want.length,
        20_000,
      ).catch(() => false);
      const live = atEks();
      seen.expect(
        settled === true &&
          live.length === want.length &&
          live.every((k) => k.state === State.Active && want.some((n) => k.names.includes(n))),
        `MKs made at the EKS: ${eksKeys(eks.objectFile).length}, live: ${live.length}` +
          (committed ? ' (the new one, Active)' : ' (no orphan)'),
        JSON.stringify(live),
      );

      await deksUnwrap(node, seen, 'after the restart');
      await node.stopEkmd();
      await node.powerCycle();
      await seen.step('ekmd restarts after a power cycle', node.startEkmd());
      await deksUnwrap(node, seen, 'after power cycle + restart');
      const again = (await node.rpc.ok('GetSoftwareEncryptionAtRestInfo')).masterKeyInfo;
      seen.expect(again.keyID === current.keyID, 'the same MK is current after the power cycle');
    },
  };
}
