// The embedded default as `npm start` runs it: the compiled start script with its three
// children (ekmd-sim, the dev key server, ekmd), set up through the public API on the
// first start, a real boot (drives power-cycled) on the second.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { API_CERT_FILE } from '../../src/store/state-files';
import { rpc } from '../daemon/ekmd-process';
import { DevStarts, freePort, stop } from './fixtures/dev-start';

const starts = new DevStarts(t);
const { state } = starts;

t.test('first start sets up EAR; a second start resumes as a boot', async (t) => {
  const port = await freePort();
  const first = await starts.start(port);
  const out1 = first.output();
  t.match(out1, /^setup: CreateCluster$/m);
  t.match(out1, /^setup: EnableEncryptionAtRest with key provider \d+$/m);
  t.same(first.summary.slice(1, 4), ['enabled', '4', '4']);
  t.match(out1, new RegExp(`admin credentials in ${join(state, 'admin.json')}`));

  const adminFile = join(state, 'admin.json');
  t.equal(statSync(adminFile).mode & 0o777, 0o600, 'admin.json is 0600');
  const admin = JSON.parse(readFileSync(adminFile, 'utf8')) as {
    username: string;
    password: string;
  };
  t.ok(admin.password.length >= 16, 'a random password');

  const ca = readFileSync(join(state, 'ekmd', API_CERT_FILE), 'utf8');
  const call = async (method: string) => {
    const r = await rpc(port, ca, admin, method);
    t.equal(r.status, 200, method);
    return JSON.parse(r.body).result;
  };
  const drives = (await call('ListDrives')).drives as { keyID?: string; serial: string }[];
  t.equal(drives.length, 4, 'ListDrives shows 4 drives');
  t.ok(
    drives.every((d) => d.keyID),
    'every drive has an AK',
  );
  for (const d of drives) t.match(out1, new RegExp(`serial ${d.serial} `), `line for ${d.serial}`);
  t.equal((await call('GetClusterInfo')).clusterInfo.encryptionAtRestState, 'enabled');

  await stop(t, first);

  const second = await starts.start(port);
  const out2 = second.output();
  t.match(out2, /^setup already done$/m);
  t.notMatch(out2, /^setup: /m, 'setup not run again');
  t.same(second.summary.slice(1, 4), ['enabled', '4', '4']);
  t.same(second.summary.slice(5, 7), ['4', '4'], 'boot unlock after the power cycle');
  t.match(out2, /^drive 4 .* unlocked$/m);
  const again = (await call('ListDrives')).drives as { keyID?: string }[];
  t.same(
    again.map((d) => d.keyID),
    drives.map((d) => d.keyID),
    'same drives and keys',
  );
  await stop(t, second);

  for (const [name, text] of [
    ['first start', out1],
    ['second start', out2],
    ...readdirSync(join(state, 'logs')).map((f) => [
      f,
      readFileSync(join(state, 'logs', f), 'utf8'),
    ]),
  ] as [string, string][]) {
    t.notOk(text.includes(admin.password), `no password in ${name}`);
  }
});
