// How ekmctl reaches ekmd: credential sources, the 0600 config file, pinning of the
// self-signed certificate on first use, --ca, 401s and usage errors.
import t from 'tap';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bin } from '../../helpers/paths';
import { BOOTSTRAP, ekmctl, login, operator, startDaemon, type Daemon } from './harness';

let d: Daemon;
t.before(async () => {
  d = await startDaemon(t, true);
});

const pinsFile = (home: string) => join(home, 'ekmctl', 'pinned-certificates.json');

t.test('first use pins the certificate ekmd keeps in its stateDir', async (t) => {
  const op = operator(t);
  const r = await ekmctl(op.env, 'key-providers', 'list', '--json', ...login(d, op));
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), []);
  const cert = new X509Certificate(readFileSync(join(d.work.stateDir, 'api-tls.crt')));
  t.match(r.stderr, `SHA-256 ${cert.fingerprint256}`);
  const file = pinsFile(op.configHome);
  t.same(JSON.parse(readFileSync(file, 'utf8')), { [new URL(d.url).host]: cert.fingerprint256 });
  t.equal(statSync(file).mode & 0o777, 0o600);

  const again = await ekmctl(op.env, 'key-providers', 'list', ...login(d, op));
  t.equal(again.status, 0);
  t.equal(again.stderr, '', 'no note once pinned');
  t.match(again.stdout, /^ID\s+NAME\s+ACTIVE\s+KEY SERVERS\n$/);
});

t.test('a changed certificate is refused before credentials are sent', async (t) => {
  const op = operator(t);
  mkdirSync(join(op.configHome, 'ekmctl'), { recursive: true });
  const pinned = { [new URL(d.url).host]: 'AA:'.repeat(31) + 'AA' };
  writeFileSync(pinsFile(op.configHome), JSON.stringify(pinned), { mode: 0o600 });
  const failuresBefore = d.ekmd.output().split('API authentication failed').length;
  const r = await ekmctl(
    op.env,
    'cluster',
    'info',
    ...login(d, op, { username: 'someone', password: 'wrong' }),
  );
  t.equal(r.status, 1);
  t.match(r.stderr, /certificate of ekmd at 127\.0\.0\.1:\d+ has changed/);
  t.match(r.stderr, /Refusing to send credentials/);
  t.equal(r.stderr.trim().split('\n').length, 1);
  t.same(JSON.parse(readFileSync(pinsFile(op.configHome), 'utf8')), pinned, 'pin kept');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(
    d.ekmd.output().split('API authentication failed').length,
    failuresBefore,
    'ekmd never saw a login attempt',
  );
});

t.test('a wrong password is a clear 401, exit 1', async (t) => {
  const op = operator(t);
  const r = await ekmctl(
    op.env,
    'cluster',
    'info',
    ...login(d, op, { username: BOOTSTRAP.username, password: 'not-the-password' }),
  );
  t.equal(r.status, 1);
  t.match(r.stderr, /refused the credentials of user 'bootstrap' \(HTTP 401 Unauthorized\)/);
  t.notMatch(r.stderr, /not-the-password/);
});

t.test('credentials from the environment', async (t) => {
  const op = operator(t);
  const env = {
    ...op.env,
    EKMCTL_URL: d.url,
    EKMCTL_USERNAME: BOOTSTRAP.username,
    EKMCTL_PASSWORD: BOOTSTRAP.password,
  };
  const r = await ekmctl(env, 'key-servers', 'list', '--json');
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), []);
});

t.test('the config file is used only when private to its owner', async (t) => {
  const op = operator(t);
  const dir = join(op.configHome, 'ekmctl');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.json');
  const config = { url: d.url, username: BOOTSTRAP.username, password: BOOTSTRAP.password };
  writeFileSync(file, JSON.stringify(config), { mode: 0o644 });
  const refused = await ekmctl(op.env, 'key-servers', 'list');
  t.equal(refused.status, 1);
  t.match(
    refused.stderr,
    /refusing .*config\.json: it is readable by group or others \(mode 644\)/,
  );
  t.match(refused.stderr, /chmod 600/);
  t.notOk(statSync(dir).isFile());
  t.throws(() => statSync(pinsFile(op.configHome)), 'nothing was contacted');

  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  const { chmodSync } = await import('node:fs');
  chmodSync(file, 0o600);
  const ok = await ekmctl(op.env, 'key-servers', 'list', '--json');
  t.equal(ok.status, 0, ok.stderr);
  t.same(JSON.parse(ok.stdout), []);

  writeFileSync(file, JSON.stringify({ ...config, pasword: 'typo' }));
  const unknown = await ekmctl(op.env, 'key-servers', 'list');
  t.equal(unknown.status, 1);
  t.match(unknown.stderr, /unknown key "pasword"/);
  t.notMatch(unknown.stderr, /typo/);
});

t.test('--ca verifies the chain instead of pinning', async (t) => {
  const op = operator(t);
  const ca = join(d.work.stateDir, 'api-tls.crt');
  const r = await ekmctl(op.env, 'key-servers', 'list', '--ca', ca, ...login(d, op));
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '');
  t.throws(() => statSync(pinsFile(op.configHome)), 'no pin written');

  const other = join(d.work.dir, 'api.crt');
  const wrong = await ekmctl(op.env, 'key-servers', 'list', '--ca', other, ...login(d, op));
  t.equal(wrong.status, 1);
  t.match(wrong.stderr, /TLS certificate of ekmd at https:\/\/127\.0\.0\.1:\d+ is not trusted/);
});

t.test('usage errors exit 2 with one line', async (t) => {
  const op = operator(t);
  const cases: [string[], RegExp][] = [
    [['key-servers', 'get', 'abc', ...login(d, op)], /bad key server ID 'abc'/],
    [['key-servers', 'get', ...login(d, op)], /missing ID/],
    [['key-servers', 'get', '1', '2', ...login(d, op)], /unexpected argument '2'/],
    [['key-servers', 'list', '--bogus'], /Unknown option '--bogus'/],
    [['key-servers', 'frob'], /unknown subcommand 'frob'/],
    [['cluster', 'info', '--password', 'pw', '--url', d.url], /Unknown option '--password'/],
    [['cluster', 'info', '--url', d.url], /no username/],
    [['cluster', 'info', '--url', 'http://127.0.0.1:1', '--username', 'u'], /https only/],
    [['cluster', 'info', '--username', 'u', '--url', d.url], /no password/],
    [
      ['cluster', 'info', ...login(d, op), '--password-file', '/nonexistent/pw'],
      /cannot read password file/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await ekmctl(op.env, ...args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stderr.trim().split('\n').length, 1);
    t.equal(r.stdout, '');
  }
});

t.test('--help of a subcommand lists its flags and the connection flags', async (t) => {
  const op = operator(t);
  const r = await ekmctl(op.env, 'key-servers', 'create', '--help');
  t.equal(r.status, 0);
  t.match(r.stdout, /^Usage: ekmctl key-servers create \[options\]/);
  t.match(r.stdout, /--client-cert-file FILE/);
  t.match(r.stdout, /--password-file FILE/);
  const group = await ekmctl(op.env, 'key-providers', '--help');
  t.equal(group.status, 0);
  t.match(group.stdout, /add-server/);
});

t.test('an unreachable ekmd: failure exit 1, status critical exit 2', async (t) => {
  const op = operator(t);
  const flags = [
    '--url',
    'https://127.0.0.1:1',
    '--username',
    'u',
    '--password-file',
    op.passwordFile('p'),
  ];
  const r = await ekmctl(op.env, 'cluster', 'info', ...flags);
  t.equal(r.status, 1);
  t.match(r.stderr, /cannot connect to ekmd at https:\/\/127\.0\.0\.1:1: connection refused/);
  const s = await ekmctl(op.env, 'status', '--json', ...flags);
  t.equal(s.status, 2);
  t.equal(JSON.parse(s.stdout).state, 'critical');
});

t.test('on a terminal, a missing password is asked for with echo off', async (t) => {
  const op = operator(t);
  const secret = BOOTSTRAP.password;
  const cmd = [process.execPath, bin.ekmctl, 'key-servers', 'list', '--json']
    .concat([
      '--url',
      d.url,
      '--username',
      BOOTSTRAP.username,
      '--ca',
      join(d.work.stateDir, 'api-tls.crt'),
    ])
    .map((a) => `'${a}'`)
    .join(' ');
  // script(1) gives ekmctl a pseudo-terminal; the password is typed once the prompt shows.
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: op.env });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('Password for bootstrap: ') && !child.stdin.writableEnded) {
      child.stdin.end(`${secret}\r`);
    }
  });
  const code = await new Promise((resolve) => child.once('close', resolve));
  t.equal(code, 0, out);
  t.notMatch(out, secret, 'the typed password is not echoed');
  t.match(out, /\[\]/);
});
