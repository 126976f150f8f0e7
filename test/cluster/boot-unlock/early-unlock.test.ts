// The early unlock: the drives unlocked from key-plan.json with no store open. After a
// power cycle every drive is unlocked with one batched Get and every fetched key zeroed; a
// restart that finds the drives unlocked asks for no key; a device whose serial is not the
// plan's, a plan that is missing or garbled, a missing seal key, a key server that does not
// answer, or a lock held elsewhere leave the drives to the round; a drive under the split
// drive-access key whose share does not come holds no drive at the key server back and
// is left with the reason; a refusal is one attempt,
// written to the early guards' file and honoured by the next early unlock of the same boot;
// BootUnlockService records that guard, the key servers' outcomes and finds the drives
// unlocked once its store is open.
import t from 'tap';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { BootUnlockService } from '../../../src/cluster/boot-unlock';
import {
  EARLY_GUARDS_FILE,
  readEarlyGuards,
  addEarlyGuard,
} from '../../../src/cluster/boot-unlock/early-guards';
import { earlyUnlock, type EarlyUnlockDeps } from '../../../src/cluster/boot-unlock/early-unlock';
import {
  KEY_PLAN_FILE,
  parseKeyPlan,
  type KeyPlan,
  type PlannedDrive,
} from '../../../src/cluster/boot-unlock/key-plan';
import { fetchAks } from '../../../src/cluster/drive-keys/kmip-keys';
import { FaultService } from '../../../src/cluster/faults';
import { SEAL_LABEL } from '../../../src/cluster/key-pair';
import { startEarlyUnlock } from '../../../src/daemon/early-unlock';
import { KEY_PLAN_SCHEMA, schemaValidator } from '../../../src/daemon/generated-validators';
import { OpalUser } from '../../../src/opal/abi';
import { SimInventory } from '../../../src/opal/sim-socket/inventory';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import { openSealer } from '../../../src/store';
import { CskKeyring, sealWithCsk } from '../../../src/store/cluster-seal';
import { startNodeWithDevEks } from './dev-eks-node';

const DRIVES = 3;
const kmip = { connectTimeoutMs: 1000, requestTimeoutMs: 3000 };

t.test('the early unlock, before the store', async (t) => {
  const { node, keyServerID, eks } = await startNodeWithDevEks(t, DRIVES);

  // A round writes the plan the early unlock follows.
  const service = (bootID = 'boot-1') => {
    const faults = new FaultService(node.store);
    const transport = new SimTransport(node.socket);
    const s = new BootUnlockService({
      store: node.store,
      sealer: node.sealer,
      transport,
      faults,
      kmip,
      retryMaxDelayMs: 200,
      bootID: () => bootID,
      keyPlanDir: node.dir,
    });
    return {
      s,
      faults,
      close: async () => {
        await s.close();
        faults.close();
        await transport.end();
      },
    };
  };
  const first = service();
  first.s.start();
  await first.s.idle();
  await first.close();
  const planText = readFileSync(join(node.dir, KEY_PLAN_FILE), 'utf8');
  const plan = parseKeyPlan(planText, schemaValidator(KEY_PLAN_SCHEMA).validate)!;
  t.ok(plan, 'a valid plan');
  t.equal(plan.drives.length, DRIVES);
  t.notMatch(planText, /PRIVATE KEY/, 'no private key in clear');

  const sim = () => node.sim.status().drives;
  /** The early unlock over the node's simulator, with what it logged and every key fetched. */
  const runEarly = async (over: Partial<EarlyUnlockDeps> = {}) => {
    const msgs: string[] = [];
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const l of chunk.toString().split('\n'))
            if (l) msgs.push((JSON.parse(l) as { msg: string }).msg);
          done();
        },
      }),
    );
    const fetched: Buffer[] = [];
    const transport = new SimTransport(node.socket);
    const inventory = new SimInventory(node.socket);
    const pem = node.sealer.unseal(Buffer.from(plan.sealedPrivateKey!, 'base64'), SEAL_LABEL);
    try {
      const outcome = await earlyUnlock({
        plan,
        earlyGuards: readEarlyGuards(node.dir),
        bootID: 'boot-1',
        transport,
        serialsAt: (paths) => inventory.serialsAt(paths),
        privateKeyPem: pem,
        kmip,
        recordGuard: (g) => addEarlyGuard(node.dir, g),
        beforeAttempts: () => {},
        fetch: async (provider, uids) => {
          const got = await fetchAks(provider, uids);
          for (const v of got.values()) if (Buffer.isBuffer(v)) fetched.push(v);
          return got;
        },
        logger,
        ...over,
      });
      return { outcome, msgs, fetched };
    } finally {
      pem.fill(0);
      await transport.end();
      await inventory.close();
    }
  };
  const zeroed = (bufs: Buffer[]) => bufs.length > 0 && bufs.every((b) => b.every((x) => x === 0));

  t.test('after a power cycle: every drive unlocked, one Get, every key zeroed', async (t) => {
    node.sim.powerCycle();
    const { outcome, msgs, fetched } = await runEarly();
    t.equal(outcome.unlocked.length, DRIVES, 'all unlocked');
    t.ok(
      sim().every((d) => !d.locked && d.tries.admin1 === 0),
      'unlocked at the first attempt',
    );
    t.equal(msgs.filter((m) => m === 'kmip batch').length, 1, 'one batched Get');
    t.equal(fetched.length, DRIVES);
    t.ok(zeroed(fetched), 'every fetched key zeroed');
    t.same([...outcome.servers], [[keyServerID, null]], 'the key server served');
  });

  t.test('restarted without a power cycle: no key fetched', async (t) => {
    const { outcome, msgs } = await runEarly();
    t.equal(outcome.foundUnlocked.length, DRIVES, 'all read unlocked');
    t.equal(msgs.filter((m) => m === 'kmip batch').length, 0, 'no Get');
    t.same(outcome.unlocked, []);
  });

  t.test('a device whose serial is not the plan’s is left to the round', async (t) => {
    node.sim.powerCycle();
    const other: KeyPlan = {
      ...plan,
      drives: plan.drives.map((d, i) => (i === 0 ? { ...d, serial: 'SOMEONE-ELSE' } : d)),
    };
    const { outcome, msgs } = await runEarly({ plan: other });
    t.equal(outcome.unlocked.length, DRIVES - 1, 'the others unlocked');
    const path = plan.drives[0]!.path;
    const index = Number(path.slice('sim:'.length));
    t.ok(sim()[index]!.locked, 'that one stays locked');
    t.equal(sim()[index]!.tries.admin1, 0, 'and was not tried');
    t.ok(msgs.some((m) => /not the planned drive/.test(m)));
  });

  t.test('the lock held elsewhere: no attempt, keys zeroed', async (t) => {
    node.sim.powerCycle();
    const { outcome, fetched } = await runEarly({
      beforeAttempts: () => {
        throw new Error('another ekmd holds the lock');
      },
    });
    t.same(outcome.unlocked, []);
    t.ok(
      sim().every((d) => d.locked && d.tries.admin1 === 0),
      'nothing tried',
    );
    t.ok(zeroed(fetched), 'every fetched key zeroed');
  });

  t.test('a drive under the split key waiting for a share holds no other back', async (t) => {
    node.sim.powerCycle();
    const [split, ...atProvider] = plan.drives as [PlannedDrive, ...PlannedDrive[]];
    const splitPlan: KeyPlan = {
      ...plan,
      drives: atProvider,
      splitKey: {
        nodeID: 1,
        clusterUuid: 'c',
        generation: 1,
        nodeIDs: [1, 2],
        keyCheckValue: 'a'.repeat(64),
        wrappedShare: 'AAAA',
        peers: [],
        drives: [{ ...split, sealedKey: 'AAAA' }],
      },
    };
    let noPeer!: () => void;
    const shareAsked = new Promise<void>((resolve) => (noPeer = resolve));
    const index = (d: PlannedDrive) => Number(d.path.slice('sim:'.length));
    const { outcome } = await runEarly({
      plan: splitPlan,
      splitKey: {
        outer: node.sealer,
        dak: async () => {
          // Answered only once every drive at the key server is unlocked.
          while (atProvider.some((d) => sim()[index(d)]!.locked))
            await new Promise((r) => setTimeout(r, 20));
          noPeer();
          throw new Error('no peer gave its share (node 2: ECONNREFUSED)');
        },
      },
    });
    await shareAsked;
    t.same(
      outcome.unlocked,
      atProvider.map((d) => d.driveID).sort((a, b) => a - b),
    );
    t.same(outcome.failed.get(split.driveID), {
      reason: 'no peer gave its share (node 2: ECONNREFUSED)',
      retry: true,
    });
    t.ok(sim()[index(split)]!.locked, 'the split-key drive stays locked');
    t.equal(sim()[index(split)]!.tries.admin1, 0, 'and was not tried');
    node.sim.powerCycle(); // every drive locked again, as the next case expects
  });

  t.test('keys that do not arrive: drives left locked, the server named', async (t) => {
    await eks.stop();
    t.teardown(async () => {
      await eks.start();
    });
    const { outcome } = await runEarly();
    t.same(outcome.unlocked, []);
    t.equal(outcome.failed.size, DRIVES, 'each with why');
    t.ok(
      [...outcome.failed.values()].every((f) => f.retry),
      'a later round may do better',
    );
    t.match(outcome.servers.get(keyServerID), /connect|refused|ECONNREFUSED/);
    t.ok(
      sim().every((d) => d.locked),
      'still locked',
    );
  });

  t.test(
    'a refused key: one attempt, a guard on file, honoured until the store has it',
    async (t) => {
      const index = 1;
      const drive = plan.drives.find((d) => d.path === `sim:${index}`)!;
      const objects = JSON.parse(readFileSync(join(node.dir, 'eks', 'objects.json'), 'utf8')) as {
        objects: { uid: string; material?: string }[];
      };
      const ak = objects.objects.find((o) => o.uid === drive.kmipUID)?.material;
      t.ok(ak, 'the AK at the dev key server');
      await node
        .opal(index)
        .setPin(
          { who: OpalUser.ADMIN1, pin: Buffer.from(ak!, 'hex') },
          OpalUser.ADMIN1,
          Buffer.from('changed-out-of-band'),
        );
      node.sim.powerCycle();
      const once = await runEarly();
      t.equal(once.outcome.unlocked.length, DRIVES - 1);
      t.equal(once.outcome.failed.get(drive.driveID)?.retry, false, 'refused: not retried');
      t.equal(sim()[index]!.tries.admin1, 1, 'one attempt');
      t.same(
        readEarlyGuards(node.dir).map((g) => [g.driveID, g.keyID, g.bootID]),
        [[drive.driveID, drive.keyID, 'boot-1']],
        'the guard is on file',
      );
      t.notMatch(readFileSync(join(node.dir, EARLY_GUARDS_FILE), 'utf8'), /changed-out-of-band/);

      // A restart of the same boot before the store opened: not tried again.
      const again = await runEarly();
      t.equal(sim()[index]!.tries.admin1, 1, 'no second attempt');
      t.equal(again.outcome.foundUnlocked.length, DRIVES - 1, 'the others found unlocked');

      // The store opens: the guard moves there, the file goes, the drives read unlocked.
      const next = service();
      t.teardown(() => next.close());
      const rounds: { unlocked: number; failed: number; total: number }[] = [];
      next.s.onRound((p) => rounds.push(p));
      next.s.adoptEarly(Promise.resolve(again.outcome));
      next.s.start();
      await next.s.firstPass;
      await next.s.idle();
      t.notOk(existsSync(join(node.dir, EARLY_GUARDS_FILE)), 'the file is gone');
      t.match(
        node.store.get(`boot-unlock/guard/${drive.driveID}`)?.value,
        { keyID: drive.keyID, bootID: 'boot-1' },
        'the guard is in the store',
      );
      t.match(rounds[0], { total: DRIVES, unlocked: DRIVES - 1, failed: 1 }, 'one failed');
      t.equal(sim()[index]!.tries.admin1, 1, 'and not tried by the round');
      const written = parseKeyPlan(
        readFileSync(join(node.dir, KEY_PLAN_FILE), 'utf8'),
        schemaValidator(KEY_PLAN_SCHEMA).validate,
      );
      t.same(
        written?.guards.map((g) => g.driveID),
        [drive.driveID],
        'the plan carries the guard in force',
      );
      // Put the key back for the next tests.
      await node
        .opal(index)
        .setPin(
          { who: OpalUser.ADMIN1, pin: Buffer.from('changed-out-of-band') },
          OpalUser.ADMIN1,
          Buffer.from(ak!, 'hex'),
        );
      await node.store.delete(`boot-unlock/guard/${drive.driveID}`);
    },
  );

  t.test(
    'the store opens after an early pass: servers reported, drives found unlocked',
    async (t) => {
      node.sim.powerCycle();
      const { outcome } = await runEarly();
      t.equal(outcome.unlocked.length, DRIVES);
      const s = service();
      t.teardown(() => s.close());
      s.s.adoptEarly(Promise.resolve(outcome));
      const result = await s.s.round();
      t.equal(result.failed.size, 0);
      t.equal(result.progress.unlocked, DRIVES, 'progress counts them unlocked');
      t.same(
        s.faults.list('current').filter((f) => f.code === 'kmipServerFault'),
        [],
        'no server fault',
      );
    },
  );

  t.test('no early unlock without a valid plan and an existing seal key', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ekmd-plan-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = (stateDir: string) => ({
      stateDir,
      kmip,
      drives: { backend: 'sim' as const, sim: { socket: node.socket } },
    });
    const start = (stateDir: string) => startEarlyUnlock(config(stateDir), { takeLock: () => {} });
    t.equal(start(dir), undefined, 'no plan');
    writeFileSync(join(dir, KEY_PLAN_FILE), planText);
    t.equal(start(dir), undefined, 'no seal key');
    t.notOk(existsSync(join(dir, 'seal.key')), 'and none made');
    const validate = schemaValidator(KEY_PLAN_SCHEMA).validate;
    for (const bad of [
      planText.slice(0, 40),
      '{}',
      JSON.stringify({ ...plan, extra: 1 }),
      JSON.stringify({ ...plan, drives: [] }),
      JSON.stringify({ ...plan, format: 1 }),
      JSON.stringify({ ...plan, drives: [{ ...plan.drives[0], keyCheckValue: 'secret' }] }),
    ]) {
      t.equal(parseKeyPlan(bad, validate), undefined);
    }
    copyFileSync(join(node.dir, 'seal.key'), join(dir, 'seal.key'));
    writeFileSync(join(dir, KEY_PLAN_FILE), '{"format":2');
    t.equal(start(dir), undefined, 'a garbled plan');
    writeFileSync(join(dir, KEY_PLAN_FILE), planText);
    const started = start(dir);
    t.ok(started, 'a valid plan and the seal key: started');
    const outcome = await started!.done;
    t.equal(outcome.foundUnlocked.length, DRIVES, 'every drive read unlocked');
    await started!.backend.end();

    // On a shared store the plan's private key is sealed under a cluster sealing key
    // generation, which the node keeps in cluster-seal.json under its seal.key.
    const local = openSealer({ stateDir: dir, create: false });
    const pem = node.sealer.unseal(Buffer.from(plan.sealedPrivateKey!, 'base64'), SEAL_LABEL);
    const csk = randomBytes(32);
    const sealedPrivateKey = sealWithCsk(csk, 3, pem, SEAL_LABEL).toString('base64');
    pem.fill(0);
    writeFileSync(join(dir, KEY_PLAN_FILE), JSON.stringify({ ...plan, sealedPrivateKey }));
    t.equal(start(dir), undefined, 'a CSK blob without the generation kept: none');
    CskKeyring.open(dir, local).add(3, csk);
    csk.fill(0);
    const shared = start(dir);
    t.ok(shared, 'with the generation kept in the stateDir: started');
    t.equal((await shared!.done).foundUnlocked.length, DRIVES, 'and it ran');
    await shared!.backend.end();
  });
});
