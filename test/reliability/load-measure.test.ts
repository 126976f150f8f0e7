// The load runs' measuring parts: the environment read from the unit's Environment=
// lines, the RSS sampler, the bench's variants, and the API client telling a connection
// refused before its TLS handshake (nothing sent: made again) from a call cut later.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseVariant } from '../../scripts/bench/api-memory';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { RefusedBeforeHandshake, RpcClient } from '../../scripts/reliability/matrix/rpc';
import { RssSampler, rssMiB } from '../../scripts/reliability/load/stats';
import {
  UNIT_FILE,
  shippedEnvironment,
  unitEnvironment,
} from '../../scripts/reliability/load/unit-env';
import { repoRoot } from '../helpers/paths';

t.test("Environment= as systemd reads it: the [Service] section's, in order", async (t) => {
  const unit = [
    '[Unit]',
    'Environment=NOT_SERVICE=1',
    '[Service]',
    '# Environment=COMMENTED=1',
    'Environment=A=1 B=two',
    'Environment="C=with space" \'D=single quoted\' E=',
    'Environment=A=again',
    '[Install]',
    'Environment=NOT_SERVICE_EITHER=1',
  ].join('\n');
  t.same(unitEnvironment(unit), {
    A: 'again',
    B: 'two',
    C: 'with space',
    D: 'single quoted',
    E: '',
  });
  t.same(
    unitEnvironment('[Service]\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n'),
    { B: '2' },
    'an empty line clears',
  );
  t.throws(() => unitEnvironment('[Service]\nEnvironment=NOVALUE\n'), /not NAME=VALUE/);
  t.throws(() => unitEnvironment('[Service]\nEnvironment="A=1\n'), /unterminated quote/);
});

t.test("the load runs' ekmd gets the checkout's unit environment", async (t) => {
  t.equal(UNIT_FILE, join(repoRoot, 'systemd', 'ekmd.service'), 'the unit of this checkout');
  t.same(shippedEnvironment(), unitEnvironment(readFileSync(UNIT_FILE, 'utf8')));
  t.same(
    shippedEnvironment(),
    { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '131072' },
    "the unit's malloc settings, which the load runs measure",
  );
});

t.test('a bench variant: a name and Environment= words', async (t) => {
  t.same(parseVariant('arena2: MALLOC_ARENA_MAX=2 "NODE_OPTIONS=--a --b"'), {
    name: 'arena2',
    env: { MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--a --b' },
  });
  t.same(parseVariant('none:'), { name: 'none', env: {} });
  t.throws(() => parseVariant('MALLOC_ARENA_MAX=2'), /NAME: VAR=VALUE/);
});

t.test('the RSS sampler keeps the largest and the last sample', async (t) => {
  const values = [100, 300, 200, undefined, 150];
  const sampler = new RssSampler(1, () => values.shift());
  for (let i = 0; i < 5; i++) sampler.sample();
  t.equal(sampler.max, 300);
  t.equal(sampler.last, 150);
  t.equal(sampler.samples, 4, 'an unreadable sample is not counted');
  const own = new RssSampler(process.pid).start(10);
  await new Promise((r) => setTimeout(r, 50));
  own.stop();
  t.ok(own.samples >= 2, `sampled at start and at stop (${own.samples})`);
  t.ok(own.max! >= own.last! && own.last! > 0, 'this process has an RSS');
  t.equal(rssMiB(undefined), undefined);
  t.equal(new RssSampler(undefined).sample(), undefined, 'no pid: nothing read');
});

const listen = (server: Server) =>
  new Promise<number>((r) =>
    server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)),
  );

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error) => e,
  );

t.test('a connection closed before its TLS handshake is told from a call cut later', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-rpc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await makeDevPki(dir);
  const ca = readFileSync(pki.ca, 'utf8');
  const admin = { username: 'admin', password: 'x' };

  const refusing = createNetServer((socket) => socket.destroy());
  t.teardown(() => refusing.close());
  const refused = new RpcClient(await listen(refusing), ca, admin);
  t.teardown(() => refused.close());
  const before = await failure(refused.call('ListDrives'));
  t.ok(before instanceof RefusedBeforeHandshake, `before the handshake: ${before?.message}`);

  const cutting = createHttpsServer(
    { cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key) },
    (req) => req.socket.destroy(),
  );
  t.teardown(() => cutting.close());
  const cut = new RpcClient(await listen(cutting as unknown as Server), ca, admin);
  t.teardown(() => cut.close());
  const err = await failure(cut.call('ListDrives'));
  t.ok(err, 'the cut call fails');
  t.notOk(err instanceof RefusedBeforeHandshake, `after the handshake: ${err?.message}`);
});
