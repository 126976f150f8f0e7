// A boot unlock round saves each unlock (IOC_OPAL_SAVE, so the kernel re-unlocks the
// drive after a suspend/resume) only once every drive of the round has had its unlock:
// a save is for the next resume and must not hold back another drive's unlock. Seen at
// the transport (the order of the ioctls) while a real round unlocks real simulated
// drives, and at the simulator (a suspend/resume after the round leaves them unlocked).
import t from 'tap';
import { BootUnlockService } from '../../../src/cluster/boot-unlock';
import { FaultService } from '../../../src/cluster/faults';
import { IOC_OPAL_LOCK_UNLOCK, IOC_OPAL_SAVE } from '../../../src/opal/abi';
import type { DriveTransport } from '../../../src/opal/transport';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import { createCluster, startEarNode, waitForEarState } from '../hardware-ear/ear-node';

const DRIVES = 6;

/** Delegates to the simulator; records each ioctl's name, and which fd it was for. */
function recordingTransport(
  sim: SimTransport,
  maxInFlight: number,
): DriveTransport & { calls: { name: string; fd: number }[] } {
  const names = new Map<number, string>([
    [IOC_OPAL_LOCK_UNLOCK.request, 'LOCK_UNLOCK'],
    [IOC_OPAL_SAVE.request, 'SAVE'],
  ]);
  const calls: { name: string; fd: number }[] = [];
  return {
    calls,
    maxInFlight,
    open: (path: string) => sim.open(path),
    ioctl: (fd: number, request: number, buf: Buffer) => {
      const name = names.get(request);
      if (name) calls.push({ name, fd });
      return sim.ioctl(fd, request, buf);
    },
    close: (fd: number) => sim.close(fd),
  };
}

t.test('a round saves the unlocks once every drive has had its unlock', async (t) => {
  const node = await startEarNode(t, { drives: DRIVES });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const sim = new SimTransport(node.socket);
  t.teardown(() => sim.end());

  for (const maxInFlight of [1, sim.maxInFlight]) {
    node.sim.powerCycle();
    const transport = recordingTransport(sim, maxInFlight);
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
      t.equal(result.unlocked.length, DRIVES, `${maxInFlight} at once: every drive unlocked`);
    } finally {
      await service.close();
      faults.close();
    }
    const names = transport.calls.map((c) => c.name);
    const lastUnlock = names.lastIndexOf('LOCK_UNLOCK');
    const firstSave = names.indexOf('SAVE');
    t.equal(names.filter((n) => n === 'LOCK_UNLOCK').length, DRIVES, 'one unlock per drive');
    t.equal(names.filter((n) => n === 'SAVE').length, DRIVES, 'one save per drive');
    t.ok(firstSave > lastUnlock, `${maxInFlight} at once: every unlock before the first save`);
    const savedFds = new Set(transport.calls.filter((c) => c.name === 'SAVE').map((c) => c.fd));
    t.equal(savedFds.size, DRIVES, 'each drive saved on its own open descriptor');

    node.sim.suspendResume();
    t.ok(
      node.sim.status().drives.every((d) => !d.locked),
      'after a suspend/resume the kernel replayed every saved unlock',
    );
  }
});
