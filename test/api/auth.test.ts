import t from 'tap';
import { ContactRecorder } from './fixtures';
import { BOOTSTRAP, startNode } from './node';

const basic = (user: string, pass: string) =>
  'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
const body = '{"method":"GetAPI","id":0}';
const createCluster = {
  acceptEula: true,
  mvip: '127.0.0.1',
  svip: '127.0.0.2',
  nodes: ['127.0.0.1'],
  username: 'admin',
  password: 'cluster-admin-pw',
};

t.test('Basic auth', async (t) => {
  const node = await startNode(t, new ContactRecorder());
  const { client } = node;

  t.test('missing or wrong credentials get 401 with "401 Unauthorized."', async (t) => {
    const attempts: (string | null)[] = [
      null,
      basic(BOOTSTRAP.username, 'wrong'),
      basic('nobody', BOOTSTRAP.password),
      'Bearer abc',
      'Basic !!!',
      'Basic ' + Buffer.from('no-colon').toString('base64'),
    ];
    for (const auth of attempts) {
      const reply = await client.post('/json-rpc/12.3', body, { auth });
      t.equal(reply.status, 401, String(auth));
      t.match(reply.text, '401 Unauthorized.');
      t.equal(reply.headers['www-authenticate'], 'Basic realm="ekmd"');
    }
    // A success resets the failure count for this address.
    t.equal((await client.post('/json-rpc/12.3', body)).status, 200);
  });

  t.test('repeated failures are slowed down, and a success resets them', async (t) => {
    const wrong = basic(BOOTSTRAP.username, 'wrong');
    for (let i = 0; i < 3; i++) await client.post('/json-rpc/12.3', body, { auth: wrong });
    const started = Date.now();
    await client.post('/json-rpc/12.3', body, { auth: wrong });
    await client.post('/json-rpc/12.3', body, { auth: wrong });
    t.ok(Date.now() - started >= 250 + 500, 'the 4th and 5th failures waited 250 ms + 500 ms');
    await client.post('/json-rpc/12.3', body); // right credentials, after the penalty
    const fresh = Date.now();
    await client.post('/json-rpc/12.3', body, { auth: wrong });
    // Without the reset this would be the 6th failure in a row: 2 s.
    t.ok(Date.now() - fresh < 1500, 'a failure right after a success is not delayed');
  });

  t.test('CreateCluster replaces the bootstrap credentials, across restarts', async (t) => {
    await client.ok('CreateCluster', createCluster);
    const old = await client.post('/json-rpc/12.3', body);
    t.equal(old.status, 401, 'bootstrap credentials no longer work (even if cached)');
    client.username = 'admin';
    client.password = 'cluster-admin-pw';
    t.ok((await client.call('GetClusterInfo')).result, 'the cluster admin works');
    await node.restart();
    t.ok(
      (await node.client.call('GetClusterInfo')).result,
      'the cluster admin works after restart',
    );
    const boot = await node.client.post('/json-rpc/12.3', body, {
      auth: basic(BOOTSTRAP.username, BOOTSTRAP.password),
    });
    t.equal(boot.status, 401, 'bootstrap credentials still refused after restart');
    const stored = JSON.stringify(node.store.list('cluster/'));
    t.notMatch(stored, 'cluster-admin-pw', 'only a hash of the password is stored');
  });
});
