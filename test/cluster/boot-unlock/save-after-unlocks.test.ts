// A boot unlock round saves each unlock (IOC_OPAL_SAVE, so the kernel re-unlocks the
// drive after a suspend/resume) only once every drive of the round has had its unlock:
// a save is for the next resume and must not hold back another drive's unlock. Seen at
// the transport (the order of the ioctls) while a real round unlocks real simulated
// drives, and at the simulator (a suspend/resume after the round leaves them unlocked).
import t from 'tap';
import { IOC_OPAL_LOCK_UNLOCK, IOC_OPAL_SAVE } from '../../../src/opal/abi';
import type { DriveTransport } from '../../../src/opal/transport';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import { createCluster, startEarNode, waitForEarState } from '../hardware-ear/ear-node';
import { openUnlocker } from './unlock-harness';

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

  for (const maxInFlight of [1, 1024]) {
    node.sim.powerCycle();
    let transport: ReturnType<typeof recordingTransport> | undefined;
    const unlocker = openUnlocker(node, {
      wrapTransport: (sim) => (transport = recordingTransport(sim, maxInFlight)),
    });
    try {
      const result = await unlocker.service.round();
      t.equal(result.unlocked.length, DRIVES, `${maxInFlight} at once: every drive unlocked`);
    } finally {
      await unlocker.close();
    }
    const names = transport!.calls.map((c) => c.name);
    const lastUnlock = names.lastIndexOf('LOCK_UNLOCK');
    const firstSave = names.indexOf('SAVE');
    t.equal(names.filter((n) => n === 'LOCK_UNLOCK').length, DRIVES, 'one unlock per drive');
    t.equal(names.filter((n) => n === 'SAVE').length, DRIVES, 'one save per drive');
    t.ok(firstSave > lastUnlock, `${maxInFlight} at once: every unlock before the first save`);
    const savedFds = new Set(transport!.calls.filter((c) => c.name === 'SAVE').map((c) => c.fd));
    t.equal(savedFds.size, DRIVES, 'each drive saved on its own open descriptor');

    node.sim.suspendResume();
    t.ok(
      node.sim.status().drives.every((d) => !d.locked),
      'after a suspend/resume the kernel replayed every saved unlock',
    );
  }
});
