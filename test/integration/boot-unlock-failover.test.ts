// Key server failover at boot through real processes: a provider with two dev key servers
// holding the same keys; the first one refusing connections, stalled (accepts, never
// answers the handshake) or gone → every drive unlocked through the second.
import t from 'tap';
import { poweredOffNode } from './fixtures/boot-flow';
import { TEST_CONFIG, lockedCount, waitUntil, type DevKeyServer } from './fixtures/boot-rig';

const CASES: [string, (first: DevKeyServer) => Promise<{ status: number | null } | void>][] = [
  ['refusing', (first) => first.inject('refuse')],
  ['stalled', (first) => first.inject('stall')],
  ['stopped (closed port)', (first) => first.stop()],
];

t.test('first key server broken at boot: unlocked through the second', async (t) => {
  const { node, servers } = await poweredOffNode(t, 4, 2);
  let boots = 0;
  for (const [how, breakFirst] of CASES) {
    if (boots++ > 0) {
      t.equal((await servers[0]!.inject('clear')).status, 0, 'first key server healthy again');
      t.equal((await node.sim.ctl('power-cycle')).status, 0, 'power-cycled (a new boot)');
    }
    const r = await breakFirst(servers[0]!);
    if (r) t.equal(r.status, 0, `first key server ${how}`);
    t.equal(await lockedCount(node.sim), 4, `${how}: drives locked at boot`);
    const ekmd = await node.start();
    await waitUntil(
      `${how}: every drive unlocked`,
      async () => (await lockedCount(node.sim)) === 0,
    );
    t.pass(`first key server ${how}: every drive unlocked through the second`);
    t.ok(
      (await node.sim.status()).every((d) => d.tries.admin1 === 0),
      `${how}: no PIN retry spent`,
    );
    const current = (await ekmd.client.ok('ListClusterFaults', { faultTypes: 'current' }))
      .faults as { code: string }[];
    t.notOk(
      current.some((f) => f.code === 'driveFailed'),
      `${how}: no driveFailed`,
    );
    await ekmd.stop();
  }
});

// Failover must not hide the broken server: the operator hears of it while the second
// still serves, not when the second fails too.
t.test('first key server stopped, second serving: kmipServerFault names the first', async (t) => {
  const { node, servers } = await poweredOffNode(t, 2, 2);
  await servers[0]!.stop();
  const ekmd = await node.start();
  await waitUntil('every drive unlocked', async () => (await lockedCount(node.sim)) === 0);
  const current = (await ekmd.client.ok('ListClusterFaults', { faultTypes: 'current' })).faults as {
    code: string;
    details: string;
  }[];
  t.ok(
    current.some((f) => f.code === 'kmipServerFault' && /kms1/.test(f.details)),
    'kmipServerFault for the stopped first key server',
  );
  await ekmd.stop();
});

// A black-holed first server (accepts, never answers the handshake) costs the attempt
// delay, not the connect timeout: the second is asked meanwhile, and the first is still
// reported.
t.test('first key server black-holed: unlocked long before its connect timeout', async (t) => {
  const timeoutMs = 30_000;
  const { node, servers } = await poweredOffNode(t, 4, 2, {
    ...TEST_CONFIG,
    kmip: { connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs },
  });
  t.equal((await servers[0]!.inject('stall')).status, 0, 'first key server black-holed');
  const started = Date.now();
  const ekmd = await node.start();
  await waitUntil(
    'every drive unlocked',
    async () => (await lockedCount(node.sim)) === 0,
    timeoutMs,
  );
  t.ok(Date.now() - started < timeoutMs, 'before the first server could have timed out');
  const current = (await ekmd.client.ok('ListClusterFaults', { faultTypes: 'current' })).faults as {
    code: string;
    details: string;
  }[];
  const faults = current.filter((f) => f.code === 'kmipServerFault');
  t.equal(faults.length, 1, 'one kmipServerFault');
  t.match(faults[0]?.details, /kms1.*no TLS handshake after \d+ ms/, 'naming the first, stalled');
  await ekmd.stop();
});
