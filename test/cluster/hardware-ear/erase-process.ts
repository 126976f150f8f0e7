// A node process for erase crash tests: opens the store (on the suite's backend:
// test/helpers/test-store), sealing root and drives in DIR (the simulator on SOCKET), asks
// SecureEraseDrives of DRIVE_ID and waits for it. With EKMD_TEST_HOOKS set it kills itself
// at the named crash point, as kill -9 would.
//   node erase-process.js DIR SOCKET DRIVE_ID
import { openHardwareEar } from '../../../src/daemon/hardware-ear-wiring';
import { openSealer } from '../../../src/store';
import { openTestStore } from '../../helpers/test-store';

async function main(): Promise<void> {
  const [dir, socket, driveID] = process.argv.slice(2);
  if (!dir || !socket || !driveID) throw new Error('usage: erase-process DIR SOCKET DRIVE_ID');
  const store = await openTestStore(dir);
  const sealer = openSealer({ stateDir: dir });
  const hw = openHardwareEar(
    {
      drives: { backend: 'sim', sim: { socket } },
      kmip: { connectTimeoutMs: 2000, requestTimeoutMs: 10000 },
    },
    { store, sealer },
  );
  await hw.start();
  await hw.ear.idle();
  await hw.drives.secureErase([Number(driveID)]);
  await hw.drives.idle();
  await hw.ear.idle();
  await hw.close();
  await store.close();
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
