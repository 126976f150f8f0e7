// The key provider's connection (TLS handshake, version negotiation) opens while the
// drives' status is read, not after: a status scan that waits for "kmip connected"
// completes. Nothing locked → the early connection is closed and no request is sent; the
// key server down → one connection attempt per round, the same faults as before. Keys sent
// for ahead of the first round (prefetchKeys) serve it without a second request. A round
// keeps key-plan.json, what the next start's early unlock follows (early-unlock.test.ts).
import t, { type Test } from 'tap';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { BootUnlockService, type RoundResult } from '../../../src/cluster/boot-unlock';
import {
  KEY_PLAN_FILE,
  parseKeyPlan,
  type KeyPlan,
} from '../../../src/cluster/boot-unlock/key-plan';
import { KEY_PLAN_SCHEMA, schemaValidator } from '../../../src/daemon/generated-validators';
import { FaultService } from '../../../src/cluster/faults';
import { startNodeWithDevEks } from './dev-eks-node';
import * as abi from '../../../src/opal/abi';
import type { DriveTransport } from '../../../src/opal/transport';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import { type EarNode } from '../hardware-ear/ear-node';
import { waitFor } from './unlock-harness';

/** A BootUnlockService whose status reads can be held until a condition, with its log. */
function unlocker(
  node: EarNode,
  holdStatusUntil?: (msgs: string[]) => boolean,
  keyPlanDir?: string,
) {
  const msgs: string[] = [];
  const ioctlDevices: unknown[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        const l = JSON.parse(line) as { msg: string; device?: unknown };
        msgs.push(l.msg);
        if (l.msg === 'ioctl') ioctlDevices.push(l.device);
      }
      done();
    },
  });
  const sim = new SimTransport(node.socket);
  let heldStatusReads = 0;
  const transport: DriveTransport = {
    maxInFlight: sim.maxInFlight,
    open: (path) => sim.open(path),
    close: (fd) => sim.close(fd),
    async ioctl(fd, request, buf) {
      if (holdStatusUntil && request >>> 0 === abi.IOC_OPAL_GET_STATUS.request) {
        heldStatusReads++;
        await waitFor(() => holdStatusUntil(msgs), 10_000); // throws: the drive read fails
      }
      return sim.ioctl(fd, request, buf);
    },
  };
  const faults = new FaultService(node.store);
  const service = new BootUnlockService({
    store: node.store,
    sealer: node.sealer,
    transport,
    faults,
    kmip: { connectTimeoutMs: 1000, requestTimeoutMs: 3000 },
    retryMaxDelayMs: 200,
    bootID: () => 'boot-1',
    ...(keyPlanDir ? { keyPlanDir } : {}),
    logger: pino({ level: 'debug' }, stream),
  });
  return {
    service,
    faults,
    msgs,
    ioctlDevices,
    heldStatusReads: () => heldStatusReads,
    count: (msg: string) => msgs.filter((m) => m === msg).length,
    async close() {
      await service.close();
      faults.close();
      await sim.end();
    },
  };
}

t.test('boot unlock connects to the key server during the status scan', async (t) => {
  const { node, port, keyServerID, keyProviderID, eks } = await startNodeWithDevEks(t, 3);
  const sim = () => node.sim.status().drives;
  const allUnlocked = (t: Test, result: RoundResult) => {
    t.equal(result.failed.size, 0, [...result.failed.values()].join('; '));
    t.equal(result.unlocked.length, 3);
    t.ok(
      sim().every((s) => !s.locked),
      'all unlocked',
    );
  };

  t.test('status reads held until the connection is up still finish: it came first', async (t) => {
    node.sim.powerCycle();
    const u = unlocker(node, (msgs) => msgs.includes('kmip connected'));
    t.teardown(() => u.close());
    const result = await u.service.round();
    t.ok(u.heldStatusReads() >= 3, 'every status read waited for the connection');
    allUnlocked(t, result);
    t.equal(u.count('kmip connected'), 1, 'one connection: the early one served the Get');
    t.equal(u.count('kmip batch'), 1);
    t.ok(u.ioctlDevices.length > 0, 'ioctls logged at debug level');
    t.ok(
      u.ioctlDevices.every((d) => typeof d === 'string' && d.length > 0),
      'every ioctl line names its device',
    );
  });

  t.test('nothing locked: the early connection is closed, no request sent', async (t) => {
    const u = unlocker(node);
    t.teardown(() => u.close());
    const result = await u.service.round();
    t.same(result.unlocked, []);
    t.equal(result.failed.size, 0);
    await waitFor(() => u.count('kmip connection ended') === u.count('kmip connected'));
    t.equal(u.count('kmip batch'), 0, 'no KMIP request');
    t.same(u.faults.list('current'), [], 'no fault');
  });

  t.test('keys sent for ahead: the round takes them; one connection, one Get', async (t) => {
    node.sim.powerCycle();
    const u = unlocker(node);
    t.teardown(() => u.close());
    u.service.prefetchKeys();
    await waitFor(() => u.count('kmip batch') === 1); // answered before any status was read
    const result = await u.service.round();
    allUnlocked(t, result);
    t.equal(u.count('kmip connected'), 1, 'the prefetch’s connection only');
    t.equal(u.count('kmip batch'), 1, 'the prefetch’s Get only');
    await u.service.keysAsked; // settled by the round
  });

  t.test('keys sent for ahead, nothing locked: taken by nobody, no fault', async (t) => {
    const u = unlocker(node);
    t.teardown(() => u.close());
    u.service.prefetchKeys();
    const result = await u.service.round();
    t.same(result.unlocked, []);
    t.equal(result.failed.size, 0);
    t.equal(u.count('kmip batch'), 1, 'the prefetch was answered and dropped');
    t.same(u.faults.list('current'), [], 'no fault');
  });

  const planFile = join(node.dir, KEY_PLAN_FILE);
  t.test('a round keeps key-plan.json: servers, drives, the private key sealed', async (t) => {
    rmSync(planFile, { force: true });
    const u = unlocker(node, undefined, node.dir);
    t.teardown(() => u.close());
    await u.service.round();
    t.notOk(existsSync(planFile), 'round() alone writes nothing');
    u.service.start();
    await u.service.idle();
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as KeyPlan;
    t.equal(statSync(planFile).mode & 0o777, 0o600, '0600');
    t.equal(plan.providers.length, 1);
    t.equal(plan.providers[0]!.keyProviderID, keyProviderID);
    t.same(
      plan.providers[0]!.servers.map((s) => [s.keyServerID, s.kmipKeyServerPort]),
      [[keyServerID, port]],
    );
    t.equal(plan.drives.length, 3, 'every drive');
    t.ok(
      plan.drives.every((d) => d.keyProviderID === keyProviderID && d.kmipUID && d.serial),
      'each with its serial, provider and UID',
    );
    t.same(plan.guards, [], 'no guard');
    const text = readFileSync(planFile, 'utf8');
    t.notMatch(text, /PRIVATE KEY/, 'no private key in clear');
    t.ok(
      parseKeyPlan(text, schemaValidator(KEY_PLAN_SCHEMA).validate),
      'the plan passes its schema',
    );
    // Between rounds it follows its records (here the remembered version of the server).
    const memory = `kmipVersions/${keyServerID}`;
    const had = node.store.get(memory)?.value;
    await node.store.put(memory, { endpoints: `127.0.0.1:${port}`, version: '1.2' });
    const planned = () => (JSON.parse(readFileSync(planFile, 'utf8')) as KeyPlan).providers[0]!;
    await waitFor(() => planned().servers[0]!.version === '1.2', 5000);
    if (had) await node.store.put(memory, had);
    else await node.store.delete(memory);
    await waitFor(() => planned().servers[0]!.version !== '1.2', 5000);
    t.pass('rewritten after a change between rounds, and back');
  });

  t.test('key server down: one attempt per round, faults as before', async (t) => {
    await eks.stop();
    node.sim.powerCycle();
    const u = unlocker(node);
    t.teardown(() => u.close());
    const result = await u.service.round();
    t.equal(result.failed.size, 3, 'every drive left locked');
    t.ok(result.retry, 'a later round may succeed');
    t.equal(u.count('kmip endpoint failed'), 1, 'the early attempt is the only one');
    t.ok(
      sim().every((s) => s.locked),
      'drives stay locked',
    );
    const fault = u.faults.list('current').find((f) => f.code === 'kmipServerFault');
    t.match(fault?.details, /Key server dev \(127\.0\.0\.1:\d+\)/);
    await eks.start();
    const again = await u.service.round();
    t.equal(again.unlocked.length, 3, 'back → unlocked');
  });
});
