// The simulator's ioctl entry under hostile buffers and every request number, known and
// unknown: kernel-style answers (rc >= 0, or rc = -errno) only, never an exception.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as os } from 'node:os';
import t from 'tap';
import { OPAL_IOCTLS } from '../../src/opal/abi';
import { Simulator } from '../../src/sim/simulator';
import { runFuzzSync } from '../../scripts/reliability/fuzz/runner';
import { isKernelStyle, simIoctlTarget } from '../../scripts/reliability/fuzz/targets/sim-ioctl';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-hostile-sim-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('every request number with wrong sizes and garbage', async (t) => {
  const sim = new Simulator({ stateDir: join(dir, 'a'), drives: 1, sizeMiB: 4 });
  t.teardown(() => sim.close());
  const odd: string[] = [];
  for (const def of OPAL_IOCTLS) {
    // Requests newer than the simulated kernel are ENOTTY whatever the size.
    const known = sim.ioctl(0, def.request, Buffer.alloc(def.size)).errno !== os.errno.ENOTTY;
    const want = known ? os.errno.EINVAL : os.errno.ENOTTY;
    for (const size of [0, 1, def.size - 1, def.size + 1, 4096]) {
      if (size < 0 || size === def.size) continue;
      const r = sim.ioctl(0, def.request, Buffer.alloc(size, 0xa5));
      if (r.rc !== -want) odd.push(`${def.name} size ${size}: ${JSON.stringify(r)}`);
    }
  }
  t.same(odd, [], 'a wrong argument size is EINVAL for every known request');
  t.same(sim.ioctl(0, 0x7000, Buffer.alloc(0)), { rc: -os.errno.ENOTTY, errno: os.errno.ENOTTY });
  t.same(sim.ioctl(0, 0xffffffff, Buffer.alloc(8)), {
    rc: -os.errno.ENOTTY,
    errno: os.errno.ENOTTY,
  });
});

t.test('100,000 hostile ioctls', async (t) => {
  const sim = new Simulator({ stateDir: join(dir, 'b'), drives: 2, sizeMiB: 4 });
  t.teardown(() => sim.close());
  const report = runFuzzSync(simIoctlTarget(sim), {
    iterations: 100_000,
    seed: 0x5ed,
    hangMs: 1000,
  });
  t.same(report.failures, [], 'no crash or hang to replay');
  t.equal(report.counts.crash + report.counts.hang, 0, 'zero crashes and hangs');
  t.ok(report.counts.rejected > 0 && report.counts.accepted > 0, 'both answers occur');
  t.ok(report.heapGrowthBytes < 64 * 1024 * 1024, 'bounded heap');
  const status = sim.status().drives[0]!;
  t.ok(isKernelStyle(sim.ioctl(0, OPAL_IOCTLS[0]!.request, Buffer.alloc(0))), 'still answering');
  t.equal(status.plugged, true, 'the drive is still there');
});
