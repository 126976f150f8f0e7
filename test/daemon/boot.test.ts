import t from 'tap';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startDaemon } from '../../src/daemon/boot';
import { parseConfig } from '../../src/daemon/config';
import { createLogger } from '../../src/daemon/log';
import { prepareStateDir } from '../../src/daemon/state-dir';
import { acquireStateLock } from '../../src/store/state-lock';
import { BOOTSTRAP, rpc, workdir } from './ekmd-process';

const quiet = () =>
  createLogger(
    'info',
    new Writable({
      write: (_c, _e, done) => done(),
    }),
  );
const configOf = (dir: string, api: object) =>
  parseConfig(
    {
      stateDir: 'state',
      api: { tls: { cert: 'api.crt', key: 'api.key' }, ...api },
      admin: BOOTSTRAP,
      drives: { backend: 'sim', sim: { socket: 'sim.sock' } },
    },
    { source: 'test', baseDir: dir },
  );

t.test('a systemd credential is the sealing root when present', async (t) => {
  const w = workdir(t);
  const creds = join(w.dir, 'creds');
  mkdirSync(creds);
  writeFileSync(join(creds, 'seal.key'), randomBytes(32), { mode: 0o400 });
  const daemon = await startDaemon(configOf(w.dir, { listen: '127.0.0.1:0' }), quiet(), {
    CREDENTIALS_DIRECTORY: creds,
  });
  t.teardown(() => daemon.close());
  t.equal((await rpc(daemon.api.port, w.ca, BOOTSTRAP, 'GetAPI')).status, 200);
  t.notOk(existsSync(join(w.stateDir, 'seal.key')), 'no key file made in stateDir');
});

t.test('a failed start undoes every step: lock released, store closed', async (t) => {
  const w = workdir(t);
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  const config = configOf(w.dir, { listen: `127.0.0.1:${port}` });
  await t.rejects(startDaemon(config, quiet(), {}), /EADDRINUSE/);
  acquireStateLock(w.stateDir).release(); // would throw if the lock had leaked
  await new Promise((resolve) => busy.close(resolve));
  const daemon = await startDaemon(config, quiet(), {});
  t.equal(daemon.api.port, port, 'the same stateDir starts once the port is free');
  await daemon.close();

  const missing = configOf(w.dir, {
    listen: '127.0.0.1:0',
    tls: { cert: 'nope.crt', key: 'api.key' },
  });
  await t.rejects(
    startDaemon(missing, quiet(), {}),
    /cannot read api\.tls\.cert .*nope\.crt: ENOENT/,
  );
  acquireStateLock(w.stateDir).release();
});

t.test('prepareStateDir makes 0700, tightens a wider one, refuses a file', async (t) => {
  const w = workdir(t);
  const fresh = join(w.dir, 'a', 'b');
  prepareStateDir(fresh);
  t.equal(statSync(fresh).mode & 0o777, 0o700);
  const wide = join(w.dir, 'wide');
  mkdirSync(wide, { mode: 0o755 });
  prepareStateDir(wide);
  t.equal(statSync(wide).mode & 0o777, 0o700);
  writeFileSync(join(w.dir, 'file'), '');
  t.throws(() => prepareStateDir(join(w.dir, 'file')), /is not a directory/);
  t.ok(readdirSync(w.dir).includes('file'));
});
