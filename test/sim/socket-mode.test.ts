// The simulator's socket is 0600 from the instant it exists: bound where nobody else can
// reach it, made 0600, then moved into place. Closing removes it.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimServer } from '../../src/sim/server';
import { Simulator } from '../../src/sim/simulator';
import { SimInventory } from '../../src/opal/sim-socket/inventory';
import { privateFromTheStart, watchBinds } from '../helpers/socket-binds';

t.test('the simulator socket is never reachable with wider permissions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-sim-mode-'));
  const sim = new Simulator({ stateDir: join(dir, 'state'), drives: 1, sizeMiB: 1 });
  const socketPath = join(dir, 'sim.sock');
  const server = new SimServer(sim, socketPath);
  t.teardown(async () => {
    await server.close();
    sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const watch = watchBinds();
  try {
    await server.listen();
  } finally {
    watch.stop();
  }
  t.equal(watch.binds.length, 1, 'one socket bound');
  t.ok(privateFromTheStart(watch.binds[0], socketPath), 'private when bound');
  t.equal(statSync(socketPath).mode & 0o777, 0o600, 'served 0600');
  t.ok(statSync(socketPath).isSocket());
  t.same(readdirSync(dir).sort(), ['sim.sock', 'state'], 'nothing left beside it');
  const inventory = new SimInventory(socketPath);
  t.equal((await inventory.list()).length, 1, 'clients reach it at its path');
  await server.close();
  t.notOk(existsSync(socketPath), 'closing removes the socket');
});
