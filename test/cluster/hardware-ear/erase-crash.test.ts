// Crash safety of SecureEraseDrives with real processes: ekmd and ekmd-sim as children, the
// dev key server holding the AKs. ekmd is killed (SIGKILL, EKMD_TEST_HOOKS) right after the
// revert reached the drive, or right before it; the next ekmd finishes the erase from the
// journal on the drive record: the drive ends available with no key, its old AK destroyed
// at the key server (retried while the server refuses), no fault left, and boot unlock
// never asks for the old key (with the key server refusing, a try would raise faults).
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki, signClientCsr, type DevPki } from '../../../scripts/pki/dev-pki';
import { akName } from '../../../src/cluster/drive-keys/kmip-keys';
import { KmipClient } from '../../../src/kmip/client';
import { State } from '../../../src/kmip/ttlv';
import { FaultyKeyServer } from '../../../scripts/reliability/matrix/faulty-key-server';
import { MatrixNode, until } from '../../../scripts/reliability/matrix/node';

const pkiDir = mkdtempSync(join(tmpdir(), 'ekmd-erase-pki-'));
t.teardown(() => rmSync(pkiDir, { recursive: true, force: true }));
let pki: DevPki;
t.before(async () => {
  pki = await makeDevPki(pkiDir);
});

/** The erased drive's slot; the others must be left as they were. */
const SLOT = 1;

interface EksObject {
  uid: string;
  names: string[];
  state: number;
  live: boolean;
}

function eksObjects(eks: FaultyKeyServer): EksObject[] {
  const { objects } = JSON.parse(readFileSync(eks.objectFile, 'utf8')) as {
    objects: {
      uid: string;
      material?: string;
      state: number;
      attributes: { names?: string[] };
    }[];
  };
  return objects.map((o) => ({
    uid: o.uid,
    names: o.attributes.names ?? [],
    state: o.state,
    live: o.material !== undefined,
  }));
}

/** A node with EAR enabled on the dev key server, data on every drive, ekmd stopped. */
async function earNode(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-erase-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const node = await MatrixNode.start({ dir: join(dir, 'node'), drives: 3 });
  t.teardown(() => node.close());
  const eks = await FaultyKeyServer.start(join(dir, 'eks'), pki);
  t.teardown(() => eks.close());
  await node.startEkmd();
  const csr = await node.createCluster();
  const { keyServerID } = (
    await node.rpc.ok('CreateKeyServerKmip', {
      kmipCaCertificate: readFileSync(pki.ca, 'utf8'),
      kmipClientCertificate: signClientCsr(pki.dir, csr),
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: 'kms1',
      kmipKeyServerPort: eks.port,
    })
  ).kmipKeyServer;
  const { keyProviderID } = (await node.rpc.ok('CreateKeyProviderKmip', { keyProviderName: 'p1' }))
    .kmipKeyProvider;
  await node.rpc.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
  await node.enableEar(keyProviderID);
  await node.waitUnlocked();
  await node.writePattern();
  const uuid = (await node.rpc.ok('GetClusterInfo')).clusterInfo.uuid as string;
  const drive = (await node.drives()).find((d) => d.slot === SLOT)!;
  const [old] = eksObjects(eks).filter((o) =>
    o.names.includes(akName(uuid, { serial: drive.serial, keyID: drive.keyID })),
  );
  t.ok(old?.live && old.state === State.Active, 'the drive has its AK, Active at the EKS');
  await node.stopEkmd();
  return { node, eks, drive, old: old! };
}

/** ekmd with the crash point armed; SecureEraseDrives of `driveID`; resolves once killed. */
async function eraseUntilKilled(t: Test, node: MatrixNode, driveID: number, point: string) {
  await node.startEkmd({ EKMD_TEST_HOOKS: `crash:${point}` });
  const reply = await node.rpc
    .call('SecureEraseDrives', { drives: [driveID] })
    .catch(() => undefined); // killed while answering
  const exit = await Promise.race([
    node.ekmd!.exited,
    new Promise<null>((r) => setTimeout(() => r(null), 60_000)),
  ]);
  t.equal(exit?.signal, 'SIGKILL', `ekmd killed at ${point}`);
  return reply?.result?.asyncHandle as number | undefined;
}

async function simDrive(node: MatrixNode, slot: number) {
  return (await node.simStatus())[slot]!;
}

/** The drive in the post-erase state: available, no key, no fault reason. */
async function waitErased(node: MatrixNode, driveID: number) {
  return until(
    'the drive erased and available',
    async () => {
      const d = (await node.drives()).find((x) => x.driveID === driveID)!;
      return d.status === 'available' && !('keyID' in d) && d;
    },
    60_000,
  );
}

/** Before any power cycle (which resets the counters): no drive refused a PIN. */
async function noWrongPin(t: Test, node: MatrixNode) {
  const tries = (await node.simStatus()).map((s) => [s.tries.sid, s.tries.admin1]);
  t.same(
    tries,
    tries.map(() => [0, 0]),
    'no drive saw a wrong SID or Admin1 PIN',
  );
}

/** Closing checks: the other drives' keys and data kept, the erased drive's data gone. */
async function afterPowerCycle(t: Test, node: MatrixNode) {
  await node.stopEkmd();
  await node.powerCycle();
  await node.startEkmd();
  await node.waitUnlocked();
  const diff = await node.checkData();
  const others = diff.split('; ').filter((line) => line && !line.startsWith(`drive ${SLOT} `));
  t.same(others, [], 'the other drives unlock and read back');
  t.match(diff, new RegExp(`drive ${SLOT} lba 0 differs`), 'the erased drive lost its data');
  const erased = await simDrive(node, SLOT);
  t.equal(erased.locked, false, 'the erased drive does not lock at power-on');
  t.same(await node.faultCodes(), [], 'no current fault');
}

t.test('killed right after the revert: the restart finishes the erase', async (t) => {
  const { node, eks, drive, old } = await earNode(t);
  const handle = await eraseUntilKilled(t, node, drive.driveID, 'erase.afterRevert');
  t.equal((await simDrive(node, SLOT)).lsp, 'manufactured-inactive', 'the revert reached it');
  t.ok(eksObjects(eks).find((o) => o.uid === old.uid)?.live, 'the old AK is still at the EKS');

  // With the key server refusing: recovery needs no key here, and boot unlock must not ask.
  eks.inject('refuse');
  await node.startEkmd();
  const after = await waitErased(node, drive.driveID);
  t.equal(after.driveSecurityFaultReason, 'none');
  t.notOk('keyProviderID' in after, 'no key provider either');
  t.same(await node.faultCodes(), [], 'boot unlock asked for no key: no fault');
  t.ok(eksObjects(eks).find((o) => o.uid === old.uid)?.live, 'the destroy waits for the EKS');

  eks.inject('clear');
  await until(
    'the old AK destroyed at the EKS',
    async () => !eksObjects(eks).find((o) => o.uid === old.uid)!.live,
    30_000,
  );
  t.equal(eksObjects(eks).find((o) => o.uid === old.uid)!.state, State.Destroyed);
  const eksClient = new KmipClient({
    hostnames: ['127.0.0.1'],
    port: eks.port,
    ca: readFileSync(pki.ca, 'utf8'),
    cert: readFileSync(pki.client.cert, 'utf8'),
    key: readFileSync(pki.client.key, 'utf8'),
  });
  t.teardown(() => eksClient.close());
  await t.rejects(eksClient.get(old.uid), /Item Not Found|destroyed/i, 'Get of the old AK fails');
  if (handle !== undefined) {
    const r = await node.rpc.ok('GetAsyncResult', { asyncHandle: handle });
    t.equal(r.status, 'complete', 'the interrupted call is complete (failed by the restart)');
  }
  t.match(node.ekmd!.output(), /"evidence":"reverted","msg":"finishing an interrupted erase"/);
  await noWrongPin(t, node);
  await afterPowerCycle(t, node);
});

t.test('killed right before the revert, drive relocked: erased at the restart', async (t) => {
  const { node, eks, drive, old } = await earNode(t);
  await eraseUntilKilled(t, node, drive.driveID, 'erase.afterJournal');
  t.equal((await simDrive(node, SLOT)).lsp, 'manufactured', 'not reverted yet');
  await node.simOp({ op: 'power-cycle', drive: SLOT });
  t.ok((await simDrive(node, SLOT)).locked, 'the drive is locked, as after a power loss');

  // The erase needs the AK now; until the EKS answers, boot unlock must not try it either.
  eks.inject('refuse');
  await node.startEkmd();
  await until(
    'recovery waiting for the key',
    async () => /interrupted erase not finished yet/.test(node.ekmd!.output()),
    30_000,
  );
  t.equal((await node.drives()).find((d) => d.driveID === drive.driveID)!.status, 'erasing');
  t.same(await node.faultCodes(), [], 'boot unlock asked for no key: no fault');
  t.ok((await simDrive(node, SLOT)).locked, 'nobody unlocked it');

  eks.inject('clear');
  await waitErased(node, drive.driveID);
  t.match(node.ekmd!.output(), /"evidence":"notSent","msg":"finishing an interrupted erase"/);
  t.equal((await simDrive(node, SLOT)).lsp, 'manufactured-inactive', 'reverted');
  await until(
    'the old AK destroyed at the EKS',
    async () => !eksObjects(eks).find((o) => o.uid === old.uid)!.live,
    30_000,
  );
  await noWrongPin(t, node);
  await afterPowerCycle(t, node);
});
