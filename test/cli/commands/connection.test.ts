// How ekmctl reaches ekmd: credential sources, the 0600 config file, trust in the
// self-signed certificate (the node's own, --fingerprint, a prompt, the pin), --ca, 401s and
// usage errors.
import t from 'tap';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bin } from '../../helpers/paths';
import {
  BOOTSTRAP,
  credentials,
  ekmctl,
  login,
  operator,
  startDaemon,
  type Daemon,
} from './harness';

let d: Daemon;
t.before(async () => {
  d = await startDaemon(t, true);
});

const pinsFile = (home: string) => join(home, 'ekmctl', 'pinned-certificates.json');
/** How many logins ekmd has refused so far: a refused first contact adds none. */
const refusedLogins = () => d.ekmd.output().split('API authentication failed').length;
const settle = () => new Promise((r) => setTimeout(r, 200));

t.test('a first contact without a terminal is refused unless --fingerprint vouches', async (t) => {
  const op = operator(t);
  const cert = new X509Certificate(readFileSync(join(d.work.stateDir, 'api-tls.crt')));
  t.equal(cert.fingerprint256, d.fingerprint);
  const before = refusedLogins();
  const wrong = { username: BOOTSTRAP.username, password: 'not-the-password' };
  const blind = await ekmctl(op.env, 'key-providers', 'list', ...credentials(d, op, wrong));
  t.equal(blind.status, 1);
  t.match(
    blind.stderr,
    `first contact with ekmd at ${new URL(d.url).host}, whose certificate has SHA-256 ` +
      `${d.fingerprint}: not sending credentials`,
  );
  t.match(blind.stderr, `--fingerprint ${d.fingerprint}`, 'says how to vouch for it');
  t.match(blind.stderr, /openssl x509 -noout -fingerprint -sha256/, 'and how to check it');
  t.equal(blind.stderr.trim().split('\n').length, 1);
  t.throws(() => statSync(pinsFile(op.configHome)), 'nothing pinned');

  const other = 'ab'.repeat(32);
  const mismatch = await ekmctl(
    op.env,
    ...['key-providers', 'list', ...credentials(d, op, wrong), '--fingerprint', other],
  );
  t.equal(mismatch.status, 1);
  t.match(mismatch.stderr, `has SHA-256 ${d.fingerprint}, not the --fingerprint given`);
  await settle();
  t.equal(refusedLogins(), before, 'ekmd never saw the credentials');

  // As openssl prints it on the node, or bare hex: both name the same certificate.
  const vouched = await ekmctl(
    op.env,
    ...['key-providers', 'list', '--json', ...credentials(d, op)],
    ...['--fingerprint', `sha256 Fingerprint=${d.fingerprint}`],
  );
  t.equal(vouched.status, 0, vouched.stderr);
  t.same(JSON.parse(vouched.stdout), []);
  t.match(vouched.stderr, `pinned the certificate of ekmd at 127.0.0.1:`);
  const file = pinsFile(op.configHome);
  t.same(JSON.parse(readFileSync(file, 'utf8')), { [new URL(d.url).host]: cert.fingerprint256 });
  t.equal(statSync(file).mode & 0o777, 0o600);

  const again = await ekmctl(op.env, 'key-providers', 'list', ...credentials(d, op));
  t.equal(again.status, 0, again.stderr);
  t.equal(again.stderr, '', 'pinned: no note, no question');
  t.match(again.stdout, /^ID\s+NAME\s+ACTIVE\s+KEY SERVERS\n$/);
  const bare = d.fingerprint.replace(/:/g, '').toLowerCase();
  const hex = await ekmctl(
    operator(t).env,
    ...['key-providers', 'list', ...credentials(d, op), '--fingerprint', bare],
  );
  t.equal(hex.status, 0, hex.stderr);
  const bad = await ekmctl(op.env, 'cluster', 'info', ...login(d, op), '--fingerprint', 'x1');
  t.equal(bad.status, 2);
  t.match(bad.stderr, /bad --fingerprint 'x1'/);
});

t.test("on the node, the certificate in ekmd's stateDir is trusted without asking", async (t) => {
  const op = operator(t);
  const env = { ...op.env, EKMCTL_STATE_DIR: d.work.stateDir };
  const r = await ekmctl(env, 'key-providers', 'list', '--json', ...credentials(d, op));
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), []);
  t.equal(r.stderr, '', 'no note, no question');
  t.throws(() => statSync(pinsFile(op.configHome)), 'and no pin: the file is the reference');
});

t.test('a changed certificate is refused before credentials are sent', async (t) => {
  const op = operator(t);
  mkdirSync(join(op.configHome, 'ekmctl'), { recursive: true });
  const pinned = { [new URL(d.url).host]: 'AA:'.repeat(31) + 'AA' };
  writeFileSync(pinsFile(op.configHome), JSON.stringify(pinned), { mode: 0o600 });
  const failuresBefore = refusedLogins();
  const r = await ekmctl(
    op.env,
    'cluster',
    'info',
    ...credentials(d, op, { username: 'someone', password: 'wrong' }),
  );
  t.equal(r.status, 1);
  t.match(r.stderr, /certificate of ekmd at 127\.0\.0\.1:\d+ has changed/);
  t.match(r.stderr, /Refusing to send credentials/);
  t.equal(r.stderr.trim().split('\n').length, 1);
  t.same(JSON.parse(readFileSync(pinsFile(op.configHome), 'utf8')), pinned, 'pin kept');
  await settle();
  t.equal(refusedLogins(), failuresBefore, 'ekmd never saw a login attempt');
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
    EKMCTL_STATE_DIR: d.work.stateDir,
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
  const config = {
    url: d.url,
    username: BOOTSTRAP.username,
    password: BOOTSTRAP.password,
    fingerprint: d.fingerprint,
  };
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

  writeFileSync(file, `{\n  "username": "admin",\n  "password": ${BOOTSTRAP.password}\n}\n`);
  const damaged = await ekmctl(op.env, 'key-servers', 'list');
  t.equal(damaged.status, 1);
  t.match(damaged.stderr, /config\.json is not valid JSON \(line 3, column 15: unexpected/);
  t.notMatch(damaged.stderr, BOOTSTRAP.password.slice(0, 6), 'no piece of the text quoted');
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

t.test('on a terminal, a first contact shows the fingerprint and asks first', async (t) => {
  for (const trust of [false, true]) {
    const op = operator(t);
    // No password file: the password is asked for too, after the certificate is settled.
    const cmd = [process.execPath, bin.ekmctl, 'key-servers', 'list', '--json']
      .concat(['--url', d.url, '--username', BOOTSTRAP.username])
      .map((a) => `'${a}'`)
      .join(' ');
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: op.env });
    let out = '';
    let answered = false;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('[y/N] ') && !answered) {
        answered = true;
        child.stdin.write(trust ? 'y\r' : 'n\r');
      }
      if (out.includes('Password for bootstrap: ') && !child.stdin.writableEnded) {
        child.stdin.end(`${BOOTSTRAP.password}\r`);
      }
    });
    const code = await new Promise((resolve) => child.once('close', resolve));
    t.match(out, `presents a certificate not seen before:\r\n  SHA-256 ${d.fingerprint}`);
    t.match(out, /Compare it with `openssl x509 -noout -fingerprint -sha256/);
    if (trust) {
      t.equal(code, 0, out);
      t.ok(out.indexOf('[y/N]') < out.indexOf('Password for'), 'the certificate first');
      t.match(out, /\[\]/);
      t.notMatch(out, BOOTSTRAP.password, 'the typed password is not echoed');
      t.same(JSON.parse(readFileSync(pinsFile(op.configHome), 'utf8')), {
        [new URL(d.url).host]: d.fingerprint,
      });
    } else {
      t.equal(code, 1, out);
      t.match(out, /was not trusted; nothing was sent/);
      t.notMatch(out, /Password for/, 'no password asked for');
      t.throws(() => statSync(pinsFile(op.configHome)), 'nothing pinned');
    }
  }
});
