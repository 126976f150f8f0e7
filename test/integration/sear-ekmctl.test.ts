// `ekmctl sear info|rekey` against a node serving the SEAR methods over the real simulator.
import t from 'tap';
import { join } from 'node:path';
import { API_CERT_FILE } from '../../src/store/state-files';
import { ekmctl, operator, type Operator } from '../cli/commands/harness';
import { ADMIN, createCluster, startSearNode, type SearNode } from '../cluster/sear/sear-node';

let node: SearNode;
let op: Operator;
let flags: string[];
const run = (...args: string[]) => ekmctl(op.env, ...args, ...flags);

t.before(async () => {
  node = await startSearNode(t, { drives: 2 });
  await createCluster(node);
  await node.settle();
  op = operator(t);
  flags = ['--url', `https://127.0.0.1:${node.api.address.port}`]
    .concat(['--username', ADMIN.username, '--password-file', op.passwordFile(ADMIN.password)])
    .concat(['--ca', join(node.dir, API_CERT_FILE)]);
});

t.test('sear info', async (t) => {
  const r = await run('sear', 'info');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /state:\s+enabled/);
  t.match(r.stdout, /key management:\s+internal/);
  const json = JSON.parse((await run('sear', 'info', '--json')).stdout);
  t.match(json, { state: 'enabled', version: 1, masterKeyInfo: { keyManagementType: 'internal' } });
});

t.test('sear rekey --internal --wait', async (t) => {
  const before = JSON.parse((await run('sear', 'info', '--json')).stdout).masterKeyInfo.keyID;
  const r = await run('sear', 'rekey', '--internal', '--wait');
  t.equal(r.status, 0, r.stderr);
  t.match(
    r.stdout,
    'Rekeying Master Key. Master Key management remains with Internal Key Management',
  );
  t.match(r.stderr, /async handle \d+: complete/);
  const after = JSON.parse((await run('sear', 'info', '--json')).stdout);
  t.not(after.masterKeyInfo.keyID, before);
  t.type(after.rekeyMasterKeyAsyncResultID, 'number');
  t.match(r.stdout, `new master key ${after.masterKeyInfo.keyID}`);
});

t.test('sear rekey without --wait prints the handle', async (t) => {
  const r = await run('sear', 'rekey', '--json');
  t.equal(r.status, 0, r.stderr);
  t.type(JSON.parse(r.stdout).asyncHandle, 'number');
  await node.settle();
});

t.test('usage errors exit 2, API errors exit 1 with one line', async (t) => {
  for (const args of [
    ['--external'],
    ['--internal', '--key-provider', '1'],
    ['--internal', '--external'],
  ]) {
    const r = await run('sear', 'rekey', ...args);
    t.equal(r.status, 2, args.join(' '));
  }
  const r = await run('sear', 'rekey', '--external', '--key-provider', '99');
  t.equal(r.status, 1);
  t.match(r.stderr, /^xKeyProviderIDDoesNotExist: Key provider 99 does not exist/m);
});
