// A request for another node's drives survives that node's kill -9, all real processes (a
// 3-member etcd, the dev key server, two ekmd nodes with their simulators): node 2 is killed,
// and while its alive key lasts (one lease TTL after the kill) node 1's API records
// AddDrives of node 2's drive as node 2's intent. Node 2 never took it; when it starts again
// it carries it out (its start does not fail the waiting request as interrupted), and node
// 1's GetAsyncResult and ListDrives show the drive added, still node 2's.
import t from 'tap';
import type { RpcClient } from '../../scripts/reliability/matrix/rpc';
import { startCreatedCluster, until } from './fixtures/cluster';

interface Drive {
  driveID: number;
  nodeID: number;
  status: string;
}

const drivesOf = async (api: RpcClient, nodeID: number): Promise<Drive[]> =>
  ((await api.ok('ListDrives')).drives as Drive[]).filter((d) => d.nodeID === nodeID);

t.test('kill -9 between record and take: the restarted node carries the request out', async (t) => {
  const { cluster, apis } = await startCreatedCluster(t, 2, { drives: () => 1 });
  const [api1, api2] = apis as [RpcClient, RpcClient];
  const [drive] = await until(
    "node 2's drive listed",
    async () => {
      const drives = await drivesOf(api1, 2);
      return drives.length ? drives : undefined;
    },
    20_000,
  );
  const node2 = cluster.nodes[1]!;

  // The killed node's alive key lasts one lease TTL: a call landing after it is refused
  // with xNodeOffline (nothing recorded), and the node is started and killed again.
  let asyncHandle: number | undefined;
  for (let attempt = 1; asyncHandle === undefined; attempt++) {
    await node2.kill9();
    const reply = await api1.call('AddDrives', { drives: [{ driveID: drive!.driveID }] });
    if (reply.result) asyncHandle = reply.result.asyncHandle as number;
    else {
      t.equal(reply.error?.name, 'xNodeOffline', 'recorded, or refused as offline');
      if (attempt === 3) throw new Error('node 2 was offline at every attempt');
      await node2.start();
      await until(
        'node 2 answers',
        async () => ((await api2.ok('ListDrives')) ? true : undefined),
        20_000,
      );
    }
  }
  const waiting = await api1.ok('GetAsyncResult', { asyncHandle, keepResult: true });
  t.equal(waiting.status, 'running', 'waiting for node 2');
  t.match(await drivesOf(api1, 2), [{ driveID: drive!.driveID, status: 'available' }]);

  await node2.start();
  const outcome = await until(
    'the request carried out',
    async () => {
      const r = await api1.ok('GetAsyncResult', { asyncHandle, keepResult: true });
      return r.status === 'complete' ? r : undefined;
    },
    30_000,
  );
  t.match(outcome, { resultType: 'DriveAdd', result: { driveIDs: [drive!.driveID] } });
  t.notOk(outcome.error, 'not failed as interrupted');
  t.match(await drivesOf(api1, 2), [{ driveID: drive!.driveID, status: 'active', nodeID: 2 }]);
});
