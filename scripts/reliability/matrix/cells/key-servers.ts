// The key server answers, but not as it should: one of two servers down, an impostor
// with a certificate from an untrusted CA, a key destroyed at the EKS.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cell } from '../cell';
import { faultCause } from '../node';
import { FaultyKeyServer } from '../faulty-key-server';
import { akUid, eksClient } from '../eks-client';
import { checkInvariants, createKeyServer, earScenario, maxTries } from '../scenario';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const failover: Cell = {
  name: 'one of two servers down (failover)',
  expected:
    'provider with kms1 + kms2 (a replica holding the same keys): kms1 down at boot → the ' +
    'drives unlock through kms2, no driveFailed; kmipServerFault names kms1 only (one per key ' +
    'server that failed, so a dead replica is seen while the other serves); ' +
    'TestKeyServerKmip(kms1) fails at connect; the fault resolves once kms1 is back; invariants hold',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    const s = await earScenario(ctx, seen);
    const { node, eks } = s;
    // The replica: a second dev key server started from the first one's objects.
    const replicaDir = join(ctx.dir, 'eks2');
    const replica = await FaultyKeyServer.start(replicaDir, ctx.pki);
    seen.teardown(() => replica.close());
    await replica.down();
    copyFileSync(eks!.objectFile, replica.objectFile);
    await replica.up();
    const id2 = await createKeyServer(ctx, node, s.csr, { name: 'kms2', port: replica.port });
    await node.rpc.ok('AddKeyServerToProviderKmip', {
      keyProviderID: s.keyProviderID,
      keyServerID: id2,
    });
    await node.stopEkmd();
    await eks!.down();
    await node.powerCycle();
    const t0 = Date.now();
    await node.startEkmd();
    await seen.step('drives unlocked through kms2', node.waitUnlocked());
    seen.note(`unlocked ${Date.now() - t0} ms after ekmd started`);
    const current = await node.currentFaults();
    const serverFaults = current.filter((f) => f.code === 'kmipServerFault');
    seen.expect(
      !current.some((f) => f.code === 'driveFailed'),
      'no driveFailed',
      current.map((f) => f.code).join(','),
    );
    seen.expect(
      serverFaults.length === 1 && /kms1/.test(serverFaults[0]!.details),
      `kmipServerFault for kms1 only (${serverFaults.length}): ${faultCause(serverFaults[0]?.details ?? '')}`,
    );
    const test = await node.rpc.call('TestKeyServerKmip', { keyServerID: s.keyServerID });
    seen.expect(
      test.error?.name === 'xKeyServerTestFailed',
      `TestKeyServerKmip(kms1): ${test.error?.name}: ${test.error?.message.slice(0, 80)}`,
    );
    await eks!.up();
    const back = await node.rpc.call('TestKeyServerKmip', { keyServerID: s.keyServerID });
    seen.expect(!back.error, 'TestKeyServerKmip(kms1) passes once it is back');
    await checkInvariants(node, seen);
    const left = (await node.faultCodes()).filter((c) => c === 'kmipServerFault');
    seen.expect(left.length === 0, 'kmipServerFault resolved after the restart with kms1 back');
  },
};

export const untrustedImpostor: Cell = {
  name: 'server signed by an untrusted CA (impostor)',
  expected:
    'ModifyKeyServerKmip to an untrusted CA is refused (xKeyServerTestFailed) and changes ' +
    'nothing; a server presenting a certificate of an untrusted CA gets no request: a ' +
    'relocked drive stays locked with kmipServerFault (TLS) + driveFailed; resolved when the ' +
    'real server returns; invariants hold',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    const { node, eks, keyServerID } = await earScenario(ctx, seen);
    const before = JSON.stringify(await node.rpc.ok('ListKeyServersKmip'));
    const mod = await node.rpc.call('ModifyKeyServerKmip', {
      keyServerID,
      kmipCaCertificate: readFileSync(ctx.pki.untrustedCa, 'utf8'),
    });
    seen.expect(
      mod.error?.name === 'xKeyServerTestFailed',
      `Modify to an untrusted CA: ${mod.error?.name}`,
      mod.error?.message,
    );
    const after = JSON.stringify(await node.rpc.ok('ListKeyServersKmip'));
    seen.expect(before === after, 'key server unchanged');
    await eks!.down();
    await eks!.up(ctx.pki.untrustedServer);
    await node.simOp({ op: 'unplug', drive: 1 });
    await node.simOp({ op: 'plug', drive: 1 });
    const f = await seen.step('kmipServerFault raised', node.waitFault('kmipServerFault'));
    seen.note(`details: ${faultCause(f.details)}`);
    await seen.step('driveFailed raised', node.waitFault('driveFailed'));
    seen.expect((await node.simStatus())[1]!.locked, 'the relocked drive stays locked');
    await eks!.down();
    await eks!.up(ctx.pki.server);
    await seen.step('faults resolved with the real server back', node.waitNoFaults());
    await seen.step('drive unlocked', node.waitUnlocked());
    await checkInvariants(node, seen);
  },
};

export const keyDestroyed: Cell = {
  name: 'key destroyed at the EKS',
  expected:
    'with unlock.keyCheckIntervalSec longer than the cell, the loss shows at the next relock ' +
    "(the periodic key check has its own test): the drive's Get fails, kmipServerFault + " +
    'driveFailed name it, the other drives unlock, the refused-key path is never taken ' +
    '(Tries 0); restoring the EKS from its backup resolves both; invariants hold',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    const { node, eks } = await earScenario(ctx, seen);
    const backup = join(ctx.dir, 'eks-backup.json');
    eks!.backup(backup);
    const client = eksClient(ctx.pki, eks!.port);
    seen.teardown(() => client.close());
    const uid = await akUid(node, client, 0);
    await client.revoke(uid);
    await client.destroy(uid);
    client.close();
    await sleep(1500);
    const early = await node.faultCodes();
    seen.note(
      early.length
        ? `seen while unlocked: ${early.join(',')}`
        : 'not reported while the drive stays unlocked',
    );
    await node.simOp({ op: 'unplug', drive: 0 });
    await node.simOp({ op: 'plug', drive: 0 });
    const f = await seen.step('kmipServerFault raised', node.waitFault('kmipServerFault'));
    seen.note(`details: ${faultCause(f.details)}`);
    const failed = await seen.step('driveFailed raised', node.waitFault('driveFailed'));
    seen.expect(failed.driveIDs.length === 1, `driveFailed names ${failed.driveIDs.length} drive`);
    const st = await node.simStatus();
    seen.expect(st[0]!.locked && !st[1]!.locked && !st[2]!.locked, 'only its drive locked');
    seen.expect(st[0]!.tries.admin1 === 0, 'no unlock attempted without the key (Tries 0)');
    await eks!.restore(backup);
    await seen.step('faults resolved after the EKS restore', node.waitNoFaults());
    await seen.step('drive unlocked', node.waitUnlocked());
    seen.expect((await maxTries(node)) === 0, 'Tries 0');
    await checkInvariants(node, seen);
  },
};
