// Every API method with each parameter missing, of the wrong type, huge, negative,
// unicode or null; malformed JSON; a 10 MB body; unknown methods; no or bad credentials:
// each gets its documented answer and leaves the store as it was.
import t from 'tap';
import { allApiCases } from '../../scripts/reliability/fuzz/targets/api-cases';
import { HostileApiNode } from '../../scripts/reliability/fuzz/targets/api-node';
import {
  apiTarget,
  checkCase,
  servedMethods,
} from '../../scripts/reliability/fuzz/targets/api-target';
import { runFuzz } from '../../scripts/reliability/fuzz/runner';

t.test('hostile requests get their documented answers', async (t) => {
  const node = await HostileApiNode.start();
  t.teardown(() => node.close());
  const methods = servedMethods();
  const listed = JSON.parse((await node.post('{"method":"GetAPI","id":1}')).text).result['12.3'];
  t.same(
    methods.map((m) => m.name).sort(),
    [...listed].sort(),
    'the cases cover every method the server lists',
  );
  // The method sets the daemon adds in boot.ts are all served (SEAR, faults, RetryDriveUnlock).
  for (const name of [
    'GetSoftwareEncryptionAtRestInfo',
    'RekeySoftwareEncryptionAtRestMasterKey',
    'RetryDriveUnlock',
    'ListClusterFaults',
    'ClearClusterFaults',
    'SecureEraseDrives',
    'EnableEncryptionAtRest',
    'GetAsyncResult',
  ])
    t.ok(listed.includes(name), `${name} is served and fuzzed`);
  // checkCase also compares the store before and after every refused request.
  const problems: string[] = [];
  let refused = 0;
  const cases = allApiCases(methods);
  for (const c of cases) {
    const outcome = await checkCase(node, c).catch((err: Error) => problems.push(err.message));
    if (outcome === 'rejected') refused++;
  }
  t.same(problems, [], `${cases.length} cases, each answered as documented`);
  t.ok(refused > cases.length / 2, `${refused} refused with the store unchanged`);
});

t.test('random hostile requests: no crash, no hang, store untouched when refused', async (t) => {
  const node = await HostileApiNode.start();
  t.teardown(() => node.close());
  const report = await runFuzz(apiTarget(node), { iterations: 300, seed: 12, hangMs: 10_000 });
  t.same(report.failures, [], 'no failures');
  t.equal(report.counts.crash + report.counts.hang, 0, 'zero crashes and hangs');
  t.ok(report.counts.rejected > 0, 'hostile requests were refused');
  t.ok(report.heapGrowthBytes < 64 * 1024 * 1024, 'bounded heap');
});
