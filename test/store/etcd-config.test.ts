// The store settings as the config file gives them: each problem named by its path,
// refused before anything connects; mutual TLS required off this host's loopback.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkStoreConfig, StoreError } from '../../src/store';
import { checkEtcdConfig, isLoopback, openEtcdStore } from '../../src/store/etcd';
import { readTlsFiles } from '../../src/store/etcd/config';
import { tempDir } from './tmpdir';

const tls = {
  ca: '/etc/ekmd/etcd-ca.pem',
  cert: '/etc/ekmd/etcd.pem',
  key: '/etc/ekmd/etcd-key.pem',
};

t.test('the store setting: sqlite by default, or etcd with its settings', async (t) => {
  t.same(checkStoreConfig(undefined), { backend: 'sqlite' });
  t.same(checkStoreConfig({ backend: 'sqlite' }), { backend: 'sqlite' });
  t.same(
    checkStoreConfig({
      backend: 'etcd',
      etcd: {
        endpoints: ['https://10.0.0.1:2379', 'https://etcd-2.example'],
        prefix: '/ekmd/c1/',
        tls,
      },
    }),
    {
      backend: 'etcd',
      etcd: {
        endpoints: ['https://10.0.0.1:2379', 'https://etcd-2.example:2379'],
        prefix: '/ekmd/c1/',
        tls,
      },
    },
    'a missing port is 2379',
  );
  const refused: [unknown, string][] = [
    [{ backend: 'zookeeper' }, 'store.backend must be "sqlite" or "etcd", not "zookeeper"'],
    [{ backend: 'sqlite', etcd: {} }, 'store.etcd is not a setting of the sqlite backend'],
    [{ backend: 'etcd' }, 'store.etcd must be an object'],
    [{ backend: 'etcd', etcd: {}, extra: 1 }, 'store.extra is not a setting'],
    [[], 'store must be an object'],
  ];
  for (const [value, message] of refused) t.throws(() => checkStoreConfig(value), { message });
});

t.test('etcd settings: each problem named by its path', async (t) => {
  const ok = { endpoints: ['http://127.0.0.1:2379'], prefix: '/ekmd/c1/' };
  const refused: [unknown, string][] = [
    [{ ...ok, endpoints: [] }, 'store.etcd.endpoints must be a non-empty list of etcd client URLs'],
    [
      { ...ok, endpoints: 'http://127.0.0.1:2379' },
      'store.etcd.endpoints must be a non-empty list',
    ],
    [
      { ...ok, endpoints: ['127.0.0.1:2379'] },
      'store.etcd.endpoints[0]: "127.0.0.1:2379" is not an http:// or https:// URL',
    ],
    [{ ...ok, endpoints: ['ftp://127.0.0.1'] }, 'is not an http:// or https:// URL'],
    [
      { ...ok, endpoints: ['http://127.0.0.1:2379/v3'] },
      'store.etcd.endpoints[0]: "http://127.0.0.1:2379/v3" must be scheme://host:port only',
    ],
    [{ ...ok, endpoints: ['http://u:p@127.0.0.1:2379'] }, 'must be scheme://host:port only'],
    [
      { ...ok, endpoints: ['http://127.0.0.1:2379', 'http://127.0.0.1'] },
      'store.etcd.endpoints[1]: http://127.0.0.1:2379 is listed twice',
    ],
    [{ ...ok, prefix: 'ekmd' }, 'store.etcd.prefix must start and end with "/"'],
    [{ ...ok, prefix: '/ekmd' }, 'store.etcd.prefix must start and end with "/"'],
    [{ ...ok, prefix: `/${'x'.repeat(300)}/` }, 'store.etcd.prefix is longer than 256 characters'],
    [{ ...ok, prefix: '/a\nb/' }, 'store.etcd.prefix contains a control character'],
    [{ ...ok, password: 'x' }, 'store.etcd.password is not a setting'],
    [
      { ...ok, endpoints: ['http://10.0.0.1:2379'] },
      'store.etcd.tls is required: endpoint http://10.0.0.1:2379 is not on this host',
    ],
    [
      { ...ok, endpoints: ['http://127.0.0.1:2379', 'http://etcd.example:2379'] },
      'store.etcd.tls is required: endpoint http://etcd.example:2379',
    ],
    [
      { ...ok, endpoints: ['https://127.0.0.1:2379'] },
      'store.etcd.tls is required for endpoint https://127.0.0.1:2379 (https)',
    ],
    [
      { ...ok, tls },
      'store.etcd.endpoints: http://127.0.0.1:2379 is not https, but store.etcd.tls is set',
    ],
    [
      { ...ok, endpoints: ['https://10.0.0.1'], tls: { ca: tls.ca, cert: tls.cert } },
      'store.etcd.tls.key must be the path of a PEM file',
    ],
    [
      { ...ok, endpoints: ['https://10.0.0.1'], tls: { ...tls, pin: 'x' } },
      'store.etcd.tls.pin is not a setting',
    ],
  ];
  for (const [value, message] of refused) {
    const err = t.throws(() => checkEtcdConfig(value)) as Error;
    t.ok(err instanceof StoreError);
    t.match(err.message, message);
  }
  t.same(
    checkEtcdConfig({
      endpoints: ['http://localhost:2379', 'http://[::1]:2379', 'http://127.8.9.1'],
      prefix: '/p/',
    }).endpoints,
    ['http://localhost:2379', 'http://[::1]:2379', 'http://127.8.9.1:2379'],
    'loopback endpoints may go without TLS',
  );
  await t.rejects(
    openEtcdStore({ ...ok, endpoints: ['http://10.0.0.9:2379'] }),
    /tls is required/,
    'openEtcdStore checks first',
  );
});

t.test('loopback is 127.0.0.0/8, ::1 and localhost only', async (t) => {
  for (const host of ['127.0.0.1', '127.255.0.3', '[::1]', '::1', 'localhost', 'LOCALHOST']) {
    t.equal(isLoopback(host), true, host);
  }
  for (const host of [
    '10.0.0.1',
    '128.0.0.1',
    '[::2]',
    '::ffff:127.0.0.1',
    'localhost.example',
    '0.0.0.0',
  ]) {
    t.equal(isLoopback(host), false, host);
  }
});

t.test('TLS files: unreadable or not PEM is named by setting and path, never shown', async (t) => {
  const dir = tempDir(t);
  const pem = join(dir, 'ca.pem');
  writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const junk = join(dir, 'key.pem');
  writeFileSync(junk, 'private-secret-bytes');
  t.throws(() => readTlsFiles({ ca: pem, cert: join(dir, 'missing.pem'), key: pem }), {
    message: `cannot read store.etcd.tls.cert ${join(dir, 'missing.pem')}: ENOENT`,
  });
  const err = t.throws(() => readTlsFiles({ ca: pem, cert: pem, key: junk })) as Error;
  t.equal(err.message, `store.etcd.tls.key ${junk} is not a PEM file`);
  t.same(Object.keys(readTlsFiles({ ca: pem, cert: pem, key: pem })), ['ca', 'cert', 'key']);
});
