import t from 'tap';
import { ContactRecorder } from './fixtures';
import { startNode } from './node';

const params = {
  acceptEula: true,
  mvip: '10.0.0.10',
  svip: '10.0.1.10',
  nodes: ['10.0.0.1'],
  username: 'admin',
  password: 'cluster-admin-pw',
};
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SCHEMES = ['singleHelix', 'doubleHelix', 'tripleHelix'];

t.test('CreateCluster and GetClusterInfo', async (t) => {
  const node = await startNode(t, new ContactRecorder());

  t.test('GetClusterInfo before CreateCluster is an error', async (t) => {
    const reply = await node.client.call('GetClusterInfo');
    t.equal(reply.error?.name, 'xClusterNotCreated');
  });

  t.test('wrong parameters are refused and change nothing', async (t) => {
    const before = node.snapshot();
    const cases: [Record<string, unknown>, string, RegExp][] = [];
    for (const k of ['acceptEula', 'mvip', 'svip', 'nodes', 'username', 'password']) {
      const p: Record<string, unknown> = { ...params };
      delete p[k];
      cases.push([p, 'xMissingParameter', new RegExp(`Missing member=\\[${k}\\]`)]);
    }
    cases.push(
      [{ ...params, acceptEula: false }, 'xInvalidParameter', /acceptEula/],
      [{ ...params, acceptEula: 'yes' }, 'xInvalidParameter', /acceptEula/],
      [{ ...params, mvip: 'not-an-ip' }, 'xInvalidParameter', /mvip/],
      [{ ...params, svip: 5 }, 'xInvalidParameter', /svip/],
      [{ ...params, nodes: [] }, 'xInvalidParameter', /nodes/],
      [{ ...params, nodes: '10.0.0.1' }, 'xInvalidParameter', /nodes/],
      [{ ...params, nodes: ['10.0.0.1', '10.0.0.1'] }, 'xInvalidParameter', /nodes/],
      [
        { ...params, nodes: ['10.0.0.1', '10.0.0.2'] },
        'xPendingNodeAddressDoesNotExist',
        /10.0.0.2/,
      ],
      [{ ...params, username: '' }, 'xInvalidParameter', /username/],
      [
        { ...params, enableSoftwareEncryptionAtRest: 'true' },
        'xInvalidParameter',
        /enableSoftware/,
      ],
      [{ ...params, attributes: [] }, 'xInvalidParameter', /attributes/],
    );
    for (const [p, name, message] of cases) {
      const reply = await node.client.call('CreateCluster', p);
      t.equal(reply.error?.name, name, JSON.stringify(p));
      t.match(reply.error?.message, message);
    }
    t.ok(node.snapshot() === before, 'the store is unchanged');
  });

  t.test('creates a single-node cluster with every member the SDK requires', async (t) => {
    const created = await node.client.call('CreateCluster', {
      ...params,
      enableSoftwareEncryptionAtRest: true,
      attributes: { site: 'lab' },
      serialNumber: 'SN1',
    });
    t.same(created.result, {});
    node.client.username = 'admin';
    node.client.password = 'cluster-admin-pw';
    const { clusterInfo } = await node.client.ok('GetClusterInfo');
    for (const member of [
      'encryptionAtRestState',
      'softwareEncryptionAtRestState',
      'ensemble',
      'mvip',
      'mvipNodeID',
      'name',
      'repCount',
      'supportedProtectionSchemes',
      'enabledProtectionSchemes',
      'defaultProtectionScheme',
      'svip',
      'svipNodeID',
      'uniqueID',
      'uuid',
      'attributes',
    ]) {
      t.ok(member in clusterInfo, member);
    }
    t.match(clusterInfo.uuid, UUID_V4);
    t.ok(SCHEMES.includes(clusterInfo.defaultProtectionScheme));
    for (const s of [
      ...clusterInfo.supportedProtectionSchemes,
      ...clusterInfo.enabledProtectionSchemes,
    ]) {
      t.ok(SCHEMES.includes(s), s);
    }
    t.equal(clusterInfo.encryptionAtRestState, 'disabled');
    t.equal(clusterInfo.softwareEncryptionAtRestState, 'enabled');
    t.equal(clusterInfo.mvip, '10.0.0.10');
    t.same(clusterInfo.ensemble, ['10.0.0.1']);
    t.same(clusterInfo.attributes, { site: 'lab' });
    t.equal(clusterInfo.name, 'node-1');
    t.type(clusterInfo.repCount, 'number');
  });

  t.test('a second CreateCluster is xClusterAlreadyCreated and changes nothing', async (t) => {
    const before = node.snapshot();
    const reply = await node.client.call('CreateCluster', { ...params, username: 'other' });
    t.equal(reply.error?.name, 'xClusterAlreadyCreated');
    t.ok(node.snapshot() === before, 'the store is unchanged');
  });

  t.test('a restart keeps the cluster', async (t) => {
    const { clusterInfo: before } = await node.client.ok('GetClusterInfo');
    await node.restart();
    const { clusterInfo: after } = await node.client.ok('GetClusterInfo');
    t.same(after, before);
  });
});
