import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  EXAMPLE_PASSWORDS,
  listenBeforeCluster,
  loadConfig,
  parseConfig,
  parseListen,
} from '../../src/daemon/config';
import { repoRoot } from '../helpers/paths';

const where = { source: 'test.json', baseDir: '/etc/ekmd' };
const minimal = () => ({
  stateDir: '/var/lib/ekmd',
  drives: { backend: 'sim', sim: { socket: 's' } },
});
const errorOf = (raw: unknown) => {
  try {
    parseConfig(raw, where);
  } catch (err) {
    t.type(err, ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

t.test('every key of the config table gets its default', async (t) => {
  t.same(parseConfig(minimal(), where), {
    stateDir: '/var/lib/ekmd',
    api: { listen: '127.0.0.1:8443' },
    drives: { backend: 'sim', sim: { socket: '/etc/ekmd/s' } },
    kmip: { connectTimeoutMs: 3000, requestTimeoutMs: 10000 },
    unlock: { retry: { maxDelayMs: 30000 }, metadataGraceSec: 360, keyCheckIntervalSec: 300 },
    metrics: {},
    log: { level: 'info' },
    node: {},
    syslog: { faults: false, socket: '/dev/log', facility: 'daemon' },
    store: { backend: 'sqlite' },
  });
});

t.test('node: a name and an IP address, checked', async (t) => {
  const c = parseConfig({ ...minimal(), node: { name: 'n1', ip: '10.1.2.3' } }, where);
  t.same(c.node, { name: 'n1', ip: '10.1.2.3' });
  t.match(
    errorOf({ ...minimal(), node: { ip: 'node1.example' } }),
    /node\.ip: "node1\.example" is not an IP address/,
  );
  t.match(errorOf({ ...minimal(), node: { name: '' } }), /node/);
  t.match(errorOf({ ...minimal(), node: { zone: 'a' } }), /node/);
});

t.test('store: sqlite without a store key; the etcd backend needs its settings', async (t) => {
  t.same(parseConfig({ ...minimal(), store: {} }, where).store, { backend: 'sqlite' });
  t.match(errorOf({ ...minimal(), store: { backend: 'etcd' } }), /store\.etcd: required/);
});

t.test('the example file in systemd/ sets every key; its password is refused', async (t) => {
  const example = JSON.parse(
    readFileSync(join(repoRoot, 'systemd', 'ekmd.example.json'), 'utf8'),
  ) as { admin: { password: string } };
  t.ok(EXAMPLE_PASSWORDS.includes(example.admin.password), 'its password is a known example');
  const refused = errorOf(example);
  t.match(refused, /admin\.password is the example password: choose your own bootstrap password/);
  t.match(refused, /12 characters or more/);
  t.notMatch(refused, example.admin.password);
  const c = parseConfig(
    { ...example, admin: { username: 'admin', password: 'a-password-of-my-own' } },
    where,
  );
  t.equal(c.drives.backend, 'ioctl');
  t.ok(c.api.tls && c.admin && c.metrics.listen && c.drives.ioctl && c.drives.roles && c.node.ip);
  t.same(
    Object.keys(example).includes('syslog') && Object.keys((example as any).syslog).sort(),
    ['facility', 'faults', 'socket'],
    'syslog shown',
  );
  t.equal(c.api.bootstrapListen, undefined, 'the example keeps the API on loopback until then');
});

t.test('a bootstrap password needs 12 characters or more', async (t) => {
  const admin = (password: string) => ({ ...minimal(), admin: { username: 'admin', password } });
  const short = errorOf(admin('eleven-char'));
  t.match(short, /admin\.password: a bootstrap password needs 12 characters or more/);
  t.notMatch(short, /eleven-char/);
  t.match(errorOf(admin('')), /admin\.password: a bootstrap password needs 12/);
  t.equal(parseConfig(admin('twelve-chars'), where).admin?.password, 'twelve-chars');
  t.match(errorOf(admin('change-me')), /needs 12 characters/, "the docs' example too");
});

t.test(
  'until CreateCluster the API listens on loopback unless the config says where',
  async (t) => {
    const api = (a: object) => parseConfig({ ...minimal(), api: a }, where).api;
    t.same(listenBeforeCluster(api({})), { host: '127.0.0.1', port: 8443 }, 'the default');
    t.same(listenBeforeCluster(api({ listen: '0.0.0.0:9443' })), { host: '127.0.0.1', port: 9443 });
    t.same(listenBeforeCluster(api({ listen: '10.1.2.3:443' })), { host: '127.0.0.1', port: 443 });
    t.same(listenBeforeCluster(api({ listen: 'node1.example:443' })), {
      host: '127.0.0.1',
      port: 443,
    });
    t.same(listenBeforeCluster(api({ listen: '[::]:8443' })), { host: '::1', port: 8443 });
    t.same(listenBeforeCluster(api({ listen: '[fd00::5]:8443' })), { host: '::1', port: 8443 });
    t.same(listenBeforeCluster(api({ listen: '127.0.0.2:1' })), { host: '127.0.0.2', port: 1 });
    t.same(
      listenBeforeCluster(api({ listen: '0.0.0.0:8443', bootstrapListen: '0.0.0.0:8443' })),
      { host: '0.0.0.0', port: 8443 },
      'explicitly opened',
    );
    t.match(
      errorOf({ ...minimal(), api: { bootstrapListen: 'abc' } }),
      /api\.bootstrapListen: must be/,
    );
  },
);

t.test('relative paths resolve beside the config file; the input is not modified', async (t) => {
  const raw = { ...minimal(), stateDir: 'state', api: { tls: { cert: 'c.pem', key: '/k.pem' } } };
  const c = parseConfig(raw, where);
  t.equal(c.stateDir, '/etc/ekmd/state');
  t.same(c.api.tls, { cert: '/etc/ekmd/c.pem', key: '/k.pem' });
  t.same(raw.api, { tls: { cert: 'c.pem', key: '/k.pem' } }, 'no defaults written into raw');
});

t.test('unknown keys are rejected with their path', async (t) => {
  t.match(errorOf({ ...minimal(), stateDri: 'x' }), /config test\.json: stateDri: unknown key/);
  t.match(
    errorOf({ ...minimal(), api: { tls: { cert: 'a', key: 'b', ca: 'c' } } }),
    /api\.tls\.ca: unknown key/,
  );
  t.match(
    errorOf({ ...minimal(), unlock: { retry: { maxDelay: 1 } } }),
    /unlock\.retry\.maxDelay: unknown key/,
  );
});

t.test('wrong types, ranges and enums name the path', async (t) => {
  t.match(errorOf({}), /stateDir: required; drives: required/);
  t.match(
    errorOf({ ...minimal(), kmip: { connectTimeoutMs: '3000' } }),
    /kmip\.connectTimeoutMs: must be integer/,
  );
  t.match(
    errorOf({ ...minimal(), kmip: { version: '3.0' } }),
    /kmip\.version: must be one of 1\.0/,
  );
  t.match(errorOf({ ...minimal(), log: { level: 'loud' } }), /log\.level: must be one of/);
  t.match(
    errorOf({ ...minimal(), unlock: { metadataGraceSec: -1 } }),
    /unlock\.metadataGraceSec: must be >= 0/,
  );
  t.match(
    errorOf({ ...minimal(), drives: { backend: 'disk' } }),
    /drives\.backend: must be one of sim, ioctl/,
  );
  t.match(errorOf({ ...minimal(), drives: { backend: 'ioctl' } }), /drives\.ioctl: required/);
  t.match(errorOf({ ...minimal(), drives: { backend: 'sim' } }), /drives\.sim: required/);
  t.match(
    errorOf({
      ...minimal(),
      drives: { backend: 'sim', sim: { socket: 's' }, roles: { 3: 'meta' } },
    }),
    /drives\.roles\.3: must be one of volume, block/,
  );
  t.match(
    errorOf({ ...minimal(), api: { listen: 'localhost' } }),
    /api\.listen: must be host:port/,
  );
  t.match(
    errorOf({ ...minimal(), metrics: { listen: '[::1]:99999' } }),
    /metrics\.listen: must be host:port/,
  );
  t.match(errorOf([]), /\(top level\): must be object/);
});

t.test('syslog: the socket resolves beside the file; bad values are named', async (t) => {
  const c = parseConfig({ ...minimal(), syslog: { faults: true, socket: 'log.sock' } }, where);
  t.same(c.syslog, { faults: true, socket: '/etc/ekmd/log.sock', facility: 'daemon' });
  t.match(
    errorOf({ ...minimal(), syslog: { facility: 'mail' } }),
    /syslog\.facility: must be one of user, daemon, auth, authpriv, local0/,
  );
  t.match(errorOf({ ...minimal(), syslog: { faults: 'yes' } }), /syslog\.faults: must be boolean/);
  t.match(errorOf({ ...minimal(), syslog: { socket: '' } }), /syslog\.socket: must NOT have/);
  t.match(
    errorOf({ ...minimal(), syslog: { socket: `/run/${'x'.repeat(110)}` } }),
    /syslog\.socket: longer than a Unix socket path may be \(107 bytes\)/,
  );
});

t.test('the bootstrap password never appears in an error', async (t) => {
  const msg = errorOf({
    ...minimal(),
    admin: { username: 'admin', password: 'hunter2', extra: 1 },
  });
  t.match(msg, /admin\.extra: unknown key/);
  t.notMatch(msg, /hunter2/);
  t.match(errorOf({ ...minimal(), admin: { password: 'hunter2' } }), /admin\.username: required/);
});

t.test('loadConfig: unreadable file and bad JSON are one clear line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(
    () => loadConfig(join(dir, 'missing.json')),
    /cannot read config .*missing\.json: ENOENT/,
  );
  writeFileSync(join(dir, 'bad.json'), '{"stateDir": ');
  t.throws(() => loadConfig(join(dir, 'bad.json')), /bad\.json: not valid JSON/);
});

t.test('parseListen', async (t) => {
  t.same(parseListen('127.0.0.1:8443'), { host: '127.0.0.1', port: 8443 });
  t.same(parseListen('[::1]:0'), { host: '::1', port: 0 });
  t.same(parseListen('node1.example:443'), { host: 'node1.example', port: 443 });
  for (const bad of ['8443', ':8443', '::1:8443', 'h:70000', 'h:p', 'a b:1']) {
    t.throws(() => parseListen(bad), /host:port/, bad);
  }
});

t.test(
  'store: SQLite by default; etcd with its endpoints, prefix and, off loopback, TLS',
  async (t) => {
    t.same(parseConfig(minimal(), where).store, { backend: 'sqlite' }, 'the default');
    t.match(errorOf({ ...minimal(), store: { backend: 'etcd' } }), /store\.etcd: required/);
    t.match(errorOf({ ...minimal(), store: { backend: 'zk' } }), /store\.backend: must be one of/);
    const local = { endpoints: ['http://127.0.0.1:2379'], prefix: '/ekmd/c1/' };
    t.same(parseConfig({ ...minimal(), store: { backend: 'etcd', etcd: local } }, where).store, {
      backend: 'etcd',
      etcd: local,
    });
    const remote = { endpoints: ['https://10.0.0.1:2379'], prefix: '/ekmd/c1/' };
    t.match(
      errorOf({ ...minimal(), store: { backend: 'etcd', etcd: remote } }),
      /store\.etcd\.tls is required: endpoint https:\/\/10\.0\.0\.1:2379 is not on this host's loopback/,
    );
    const tls = { ca: 'ca.pem', cert: 'node.pem', key: '/etc/ekmd/node.key' };
    const withTls = parseConfig(
      { ...minimal(), store: { backend: 'etcd', etcd: { ...remote, tls } } },
      where,
    ).store.etcd;
    t.same(
      withTls?.tls,
      { ca: join(where.baseDir, 'ca.pem'), cert: join(where.baseDir, 'node.pem'), key: tls.key },
      'TLS files resolve beside the config file',
    );
    t.match(
      errorOf({ ...minimal(), store: { backend: 'etcd', etcd: { ...local, prefix: 'ekmd' } } }),
      /store\.etcd\.prefix/,
    );
    t.match(
      errorOf({ ...minimal(), store: { backend: 'etcd', etcd: { ...local, user: 'x' } } }),
      /store\.etcd\.user: unknown key/,
    );
  },
);
