// What `ekmctl recover drives` makes of a key server's objects: only active Secret Data
// named like ekmd's AKs counts; keys of several clusters need --cluster-uuid; a serial
// with two keys is ambiguous and never applied; a drive without a key is reported.
import t from 'tap';
import { join } from 'node:path';
import { locateAks, matchDrives } from '../../src/cli/commands/recover';
import { akName, clusterGroup, parseAkName } from '../../src/cluster/drive-keys/kmip-keys';
import { KmipClient } from '../../src/kmip/client';
import type { DriveInfo } from '../../src/opal/inventory';
import { bin } from '../helpers/paths';
import { runBin } from './fixtures/node-scenario';
import { startDevEks } from '../kmip/dev-eks';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

t.test('parseAkName', async (t) => {
  t.same(parseAkName(akName(A, { serial: 'S1', keyID: 'k1' })), {
    clusterUuid: A,
    serial: 'S1',
    keyID: 'k1',
  });
  t.equal(parseAkName('some other key'), undefined);
  t.equal(parseAkName(`ekmd-AK cluster=${A} serial=S1`), undefined);
});

t.test('locate, filter and match', async (t) => {
  const { dir, pki, srv, read } = await startDevEks(t, 'recover-names');
  const client = new KmipClient({
    hostnames: ['127.0.0.1'],
    port: srv.address.port,
    ca: read(pki.ca),
    cert: read(pki.client.cert),
    key: read(pki.client.key),
  });
  t.teardown(() => client.close());
  const put = async (cluster: string, name: string, active = true) => {
    const uid = await client.registerSecretData(Buffer.alloc(32, 1), {
      names: [name],
      objectGroups: [clusterGroup(cluster)],
    });
    if (active) await client.activate(uid);
    return uid;
  };
  const s1 = await put(A, akName(A, { serial: 'S1', keyID: 'k1' }));
  const s2a = await put(A, akName(A, { serial: 'S2', keyID: 'k2' }));
  const s2b = await put(A, akName(A, { serial: 'S2', keyID: 'k3' }));
  await put(A, akName(A, { serial: 'S3', keyID: 'k4' }), false); // pre-active: not a live AK
  const revoked = await put(A, akName(A, { serial: 'S5', keyID: 'k5' }));
  await client.revoke(revoked);
  await put(A, 'not an ekmd key');
  const other = await put(B, akName(B, { serial: 'S9', keyID: 'k9' }));

  const all = await locateAks(client);
  t.same(
    all.map((k) => [k.uid, k.serial, k.keyID]).sort(),
    [
      [s1, 'S1', 'k1'],
      [s2a, 'S2', 'k2'],
      [s2b, 'S2', 'k3'],
      [other, 'S9', 'k9'],
    ].sort(),
    'active ekmd AKs of both clusters, nothing else',
  );
  const onlyA = await locateAks(client, A);
  t.same(onlyA.map((k) => k.serial).sort(), ['S1', 'S2', 'S2']);

  const drive = (serial: string, path: string): DriveInfo => ({
    path,
    serial,
    model: 'm',
    capacityBytes: 1,
    opal: true,
  });
  const matches = matchDrives(onlyA, [
    drive('S4', 'sim:0'),
    drive('S2', 'sim:1'),
    drive('S1', 'sim:2'),
  ]);
  t.same(
    matches.map((m) => [m.serial, m.drive?.path ?? null, m.slot, m.keys.length]),
    [
      ['S1', 'sim:2', 2, 1],
      ['S2', 'sim:1', 1, 2],
      ['S4', 'sim:0', 0, 0],
    ],
  );

  // The command: several clusters need a choice; without drives nothing is recoverable.
  const flags = [
    '--kmip-host',
    '127.0.0.1',
    '--kmip-port',
    String(srv.address.port),
    '--ca',
    pki.ca,
    '--cert',
    pki.client.cert,
    '--key',
    pki.client.key,
  ];
  const both = await runBin([bin.ekmctl, 'recover', 'drives', ...flags]);
  t.equal(both.code, 1);
  t.match(
    both.stderr,
    new RegExp(`keys of 2 clusters found \\(.*${B}.*\\); choose one with --cluster-uuid`),
  );
  const a = await runBin([bin.ekmctl, 'recover', 'drives', ...flags, '--cluster-uuid', A]);
  t.equal(a.code, 1, 'keys found, none recoverable: exit 1');
  t.match(a.stdout, /^S1 +- +uid \S+ +not present$/m);
  t.match(a.stdout, /^S2 +- +uid \S+,\S+ +not present$/m);
  const apply = await runBin([
    bin.ekmctl,
    'recover',
    'drives',
    ...flags,
    '--cluster-uuid',
    A,
    '--apply',
    '--state-dir',
    join(dir, 'state'),
  ]);
  t.equal(apply.code, 2, '--apply without drives: usage error');
  t.match(apply.stderr, /--apply needs the drives/);
});
