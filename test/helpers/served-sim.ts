// A simulator served on its socket in a fresh directory, and a transport to it, for tests
// that work drives over the socket as the daemon does. Listening before the test's first
// subtest; transport, server, simulator and directory gone at its teardown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimTransport } from '../../src/opal/sim-socket/transport';
import { SimServer } from '../../src/sim/server';
import { Simulator } from '../../src/sim/simulator';

interface TestHooks {
  before(fn: () => unknown): void;
  teardown(fn: () => unknown): void;
}

export function servedSim(
  t: TestHooks,
  opts: { prefix: string; drives: number; sizeMiB: number },
): { sim: Simulator; transport: SimTransport } {
  const dir = mkdtempSync(join(tmpdir(), opts.prefix));
  const socketPath = join(dir, 'sim.sock');
  const sim = new Simulator({
    stateDir: join(dir, 'state'),
    drives: opts.drives,
    sizeMiB: opts.sizeMiB,
  });
  const server = new SimServer(sim, socketPath);
  const transport = new SimTransport(socketPath);
  t.before(() => server.listen());
  t.teardown(async () => {
    await transport.end();
    await server.close();
    sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { sim, transport };
}
