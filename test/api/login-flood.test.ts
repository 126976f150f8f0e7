// Password guessing under attack: 500 wrong logins at once from one address and one from
// each of 500 other loopback addresses, while the admin calls ListDrives every 100 ms and
// logs in afresh every 300 ms. The admin's calls stay fast (never seconds), fresh logins
// get through within seconds, and the password checks made stay few.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineMethod } from '../../src/api';
import { noParams } from '../../src/api/method';
import { API_CERT_FILE } from '../../src/store/state-files';
import { adminUnderFlood } from '../../scripts/reliability/load/login-flood';
import { ContactRecorder } from './fixtures';
import { BOOTSTRAP, startNode } from './node';

const listDrives = defineMethod({
  name: 'ListDrives',
  params: noParams,
  handler: () => ({ drives: [] }),
});

t.test('the admin works through a login flood', async (t) => {
  const node = await startNode(t, new ContactRecorder(), { methods: [listDrives] });
  node.client.close();
  const admin = node.api.services.admin;
  const verify = admin.verify.bind(admin);
  let checks = 0;
  admin.verify = (user: string, password: string) => {
    checks++;
    return verify(user, password);
  };
  const report = await adminUnderFlood({
    port: node.api.address.port,
    ca: readFileSync(join(node.dir, API_CERT_FILE), 'utf8'),
    admin: BOOTSTRAP,
    user: BOOTSTRAP.username,
    single: 500,
    singleAddress: '127.0.0.2',
    spread: 500,
  });
  const { flood } = report;
  t.comment(
    `flood: ${flood.attempts} attempts in ${flood.ms} ms, ${JSON.stringify(flood.outcomes)}; ` +
      `password checks made: ${checks}`,
  );
  t.comment(
    `admin: ${report.adminCalls} calls, p50 ${report.adminP50Ms} ms, p99 ${report.adminP99Ms} ms, ` +
      `max ${report.adminMaxMs} ms, errors ${report.adminErrors}; fresh logins ` +
      `${JSON.stringify(report.freshLoginMs)} ms, failed ${report.freshLoginFailures}`,
  );
  const count = (re: RegExp) =>
    Object.entries(flood.outcomes)
      .filter(([k]) => re.test(k))
      .reduce((n, [, v]) => n + v, 0);
  t.equal(count(/: 200$/), 0, 'no guess succeeds');
  t.ok(checks < 250, `password checks bounded (${checks} for ${flood.attempts} attempts)`);
  t.ok(count(/^one address: 429$/) > 0, 'parallel guesses from one address answered 429');
  t.ok(report.adminCalls >= 5, `the admin kept calling (${report.adminCalls} calls)`);
  t.equal(report.adminErrors, 0, 'every admin call answered 200');
  // The goal (p99 < 200 ms) is measured by `npm run bench -- login-flood` on a quiet machine;
  // here, beside other tests, the admin must only never be held up for seconds.
  t.ok(report.adminP99Ms < 2000, `admin p99 ${report.adminP99Ms} ms, never seconds`);
  t.equal(report.freshLoginFailures, 0, 'every fresh admin login got through');
  t.ok(
    report.freshLoginMs.every((ms) => ms < 5000),
    `fresh logins within 5 s (${report.freshLoginMs.join(', ')} ms)`,
  );
});
