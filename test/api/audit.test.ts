// The audit log as the API writes it: every state-changing call with its user, address
// and outcome, failed logins with the user name but never the password, and no secret
// (password, private key, certificate text) anywhere in the log.
import t from 'tap';
import { readAudit } from '../../src/cluster/audit';
import { ContactRecorder, serverParams, withKeyPair } from './fixtures';
import { BOOTSTRAP, startNode } from './node';

const ADMIN = { username: 'admin', password: 'cluster-admin-pw-AUDIT' };

t.test('the API writes the audit log', async (t) => {
  const node = await startNode(t, new ContactRecorder());
  const { client } = node;
  await client.ok('CreateCluster', {
    acceptEula: true,
    mvip: '127.0.0.1',
    svip: '127.0.0.2',
    nodes: ['127.0.0.1'],
    username: ADMIN.username,
    password: ADMIN.password,
  });
  client.username = ADMIN.username;
  client.password = ADMIN.password;
  const pki = await withKeyPair(node);
  await client.ok('CreateKeyProviderKmip', { keyProviderName: 'prod' });
  const { kmipKeyServer } = await client.ok('CreateKeyServerKmip', serverParams(pki));
  await client.ok('DeleteKeyServerKmip', { keyServerID: kmipKeyServer.keyServerID });
  await client.ok('ListKeyProvidersKmip');
  await client.ok('DeleteKeyProviderKmip', { keyProviderID: 1 });
  const typo = await client.call('DeleteKeyProviderKmip', { keyProviderID: 99, pasword: 'x-1' });
  t.equal(typo.error?.name, 'xKeyProviderIDDoesNotExist');

  const wrong = 'Basic ' + Buffer.from('mallory:guessed-PASSWORD-1').toString('base64');
  t.equal(
    (await client.post('/json-rpc/12.3', '{"method":"GetAPI"}', { auth: wrong })).status,
    401,
  );
  t.equal((await client.post('/json-rpc/12.3', '{"method":"GetAPI"}', { auth: null })).status, 401);

  const log = readAudit(node.store);
  const calls = log.filter((r) => r.source === 'api');
  t.same(
    calls.map((r) => [r.action, r.user, r.outcome]),
    [
      ['CreateCluster', BOOTSTRAP.username, 'ok'],
      ['CreatePublicPrivateKeyPair', ADMIN.username, 'ok'],
      ['GetClientCertificateSignRequest', ADMIN.username, 'ok'],
      ['CreateKeyProviderKmip', ADMIN.username, 'ok'],
      ['CreateKeyServerKmip', ADMIN.username, 'ok'],
      ['DeleteKeyServerKmip', ADMIN.username, 'ok'],
      ['DeleteKeyProviderKmip', ADMIN.username, 'ok'],
      ['DeleteKeyProviderKmip', ADMIN.username, 'xKeyProviderIDDoesNotExist'],
    ],
    'state-changing calls, not reads, with user and outcome',
  );
  t.ok(
    calls.every((r) => /^(::ffff:)?127\.0\.0\.1$/.test(r.remoteAddress)),
    'with the client address',
  );
  t.match(calls[0].params, { username: ADMIN.username, password: '[redacted]', mvip: '127.0.0.1' });
  t.match(calls[4].params, {
    kmipKeyServerName: 'kms-1',
    kmipCaCertificate: /^sha256:[0-9a-f]{64}$/,
    kmipClientCertificate: /^sha256:[0-9a-f]{64}$/,
  });
  t.same(calls[7].params, { keyProviderID: 99, pasword: '[unknown string]' });

  const logins = log.filter((r) => r.action === 'Login');
  t.same(
    logins.map((r) => [r.user, r.outcome, r.details]),
    [
      ['mallory', 'xUnauthorized', 'wrong user name or password'],
      ['', 'xUnauthorized', 'no credentials'],
    ],
  );
  t.match(logins[0], { source: 'auth', remoteAddress: /127\.0\.0\.1$/, params: { failures: 1 } });

  const text = JSON.stringify(node.store.list('audit/'));
  for (const secret of [
    ADMIN.password,
    BOOTSTRAP.password,
    'guessed-PASSWORD-1',
    'x-1',
    'BEGIN',
    pki.clientCertificate.split('\n')[1],
  ]) {
    t.notOk(text.includes(secret), `no ${secret.slice(0, 12)}… in the audit log`);
  }
});

t.test('a flood of failed logins is recorded sparsely', async (t) => {
  const node = await startNode(t, new ContactRecorder());
  const wrong = 'Basic ' + Buffer.from('root:nope').toString('base64');
  for (let i = 0; i < 8; i++) {
    await node.client.post('/json-rpc/12.3', '{"method":"GetAPI"}', { auth: wrong });
  }
  const failures = readAudit(node.store).map((r) => r.params.failures);
  t.same(failures, [1, 2, 3, 4, 5, 8], 'the first five, then powers of two');
});
