// How many drives a boot unlock round works on at once comes from the transport: the
// ioctl side is bound by libuv's thread pool, the simulator's socket is not. Counted at
// the transport (calls under way at once: open, ioctl, close) while a real round unlocks
// real simulated drives. A locked drive stays open from its status read to its save:
// an open drive costs no thread, a call does.
import t from 'tap';
import { BootUnlockService } from '../../../src/cluster/boot-unlock';
import { FaultService } from '../../../src/cluster/faults';
import type { DriveTransport } from '../../../src/opal/transport';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import { createCluster, startEarNode, waitForEarState } from '../hardware-ear/ear-node';

const DRIVES = 6;

/** Delegates to the simulator; counts the calls under way at once (the peak) and the opens. */
function countingTransport(
  sim: SimTransport,
  maxInFlight: number | undefined,
): DriveTransport & { peak: number; opens: number } {
  let busy = 0;
  const counted = async <T>(call: () => Promise<T>): Promise<T> => {
    busy++;
    counting.peak = Math.max(counting.peak, busy);
    try {
      return await call();
    } finally {
      busy--;
    }
  };
  const counting = {
    peak: 0,
    opens: 0,
    ...(maxInFlight !== undefined ? { maxInFlight } : {}),
    open: (path: string) => {
      counting.opens++;
      return counted(() => sim.open(path));
    },
    ioctl: (fd: number, request: number, buf: Buffer) => counted(() => sim.ioctl(fd, request, buf)),
    close: (fd: number) => counted(() => sim.close(fd)),
  };
  return counting;
}

t.test('a round keeps as many drives in flight as the transport allows', async (t) => {
  const node = await startEarNode(t, { drives: DRIVES });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const sim = new SimTransport(node.socket);
  t.teardown(() => sim.end());
  t.equal(sim.maxInFlight, 1024, 'the simulator transport allows many at once');

  const round = async (maxInFlight: number | undefined) => {
    node.sim.powerCycle();
    const transport = countingTransport(sim, maxInFlight);
    const faults = new FaultService(node.store);
    const service = new BootUnlockService({
      store: node.store,
      sealer: node.sealer,
      transport,
      faults,
      kmip: { connectTimeoutMs: 1000, requestTimeoutMs: 3000 },
      retryMaxDelayMs: 200,
      bootID: () => 'boot-1',
    });
    try {
      const result = await service.round();
      return { result, peak: transport.peak, opens: transport.opens };
    } finally {
      await service.close();
      faults.close();
    }
  };

  const one = await round(1);
  t.equal(one.result.unlocked.length, DRIVES, 'one at a time: every drive unlocked');
  t.equal(one.peak, 1, 'never more than one call under way');
  t.equal(one.opens, DRIVES, 'each drive opened once for its status, unlock and save');

  const unsaid = await round(undefined);
  t.equal(unsaid.result.unlocked.length, DRIVES, 'a transport that does not say: all unlocked');
  t.equal(unsaid.peak, 2, 'two at a time when the transport does not say');

  const many = await round(sim.maxInFlight);
  t.equal(many.result.unlocked.length, DRIVES, 'many at a time: every drive unlocked');
  t.ok(many.peak >= DRIVES, `every drive at once when the transport allows it (${many.peak})`);
  t.ok(
    node.sim.status().drives.every((d) => !d.locked),
    'the simulator shows every drive unlocked',
  );
});
