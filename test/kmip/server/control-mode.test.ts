// The dev key server's control socket is 0600 from the instant it exists (bound where
// nobody else can reach it, made 0600, then moved into place), replaces a stale socket
// left by a killed server, and is removed when closed.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenControl, sendControl, type DevKmipServer } from '../../../src/kmip/server';
import { privateFromTheStart, watchBinds } from '../../helpers/socket-binds';

t.test('the control socket is never reachable with wider permissions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-ctl-mode-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'control.sock');
  writeFileSync(path, 'left over'); // a killed server's socket file
  const server = { fault: { kind: 'none' } } as DevKmipServer;
  const watch = watchBinds();
  let ctl;
  try {
    ctl = await listenControl(path, server);
  } finally {
    watch.stop();
  }
  t.teardown(() => ctl.close());
  t.equal(watch.binds.length, 1, 'one socket bound');
  t.ok(privateFromTheStart(watch.binds[0], path), 'private when bound');
  t.equal(statSync(path).mode & 0o777, 0o600, 'served 0600');
  t.ok(statSync(path).isSocket(), 'the stale file was replaced');
  t.same(readdirSync(dir), ['control.sock'], 'nothing left beside it');
  t.equal(await sendControl(path, ['stall']), 'ok stall', 'commands still reach it');
  t.same(server.fault, { kind: 'stall' });
  await new Promise((resolve) => ctl.close(resolve));
  t.notOk(existsSync(path), 'closing removes the socket');
});
