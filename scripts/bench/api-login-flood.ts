// The admin's calls under a password-guessing flood (scripts/reliability/load/login-flood):
// 500 wrong logins at once from one address and one from each of 500 other loopback
// addresses, while the admin calls ListDrives every 100 ms with verified credentials and
// logs in afresh every 300 ms. Reports the admin's latency, the fresh logins' time to
// admission, what the flood was answered, and how many password checks (scrypt) were made.
// Goals: admin p99 < 200 ms; password checks bounded (< 250 for the 1,000 guesses).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineMethod, startApiServer } from '../../src/api';
import { noParams } from '../../src/api/method';
import { API_CERT_FILE } from '../../src/store/state-files';
import { openSealer, openSqliteStore } from '../../src/store';
import { adminUnderFlood } from '../reliability/load/login-flood';

const GOALS = { adminP99Ms: 200, maxChecks: 250 };
const ADMIN = { username: 'admin', password: 'bench-password' };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-login-flood-'));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  const api = await startApiServer({
    store,
    sealer: openSealer({ stateDir: dir }),
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: dir,
    bootstrapAdmin: ADMIN,
    methods: [
      defineMethod({ name: 'ListDrives', params: noParams, handler: () => ({ drives: [] }) }),
    ],
  });
  const admin = api.services.admin;
  const verify = admin.verify.bind(admin);
  let checks = 0;
  admin.verify = (user: string, password: string) => {
    checks++;
    return verify(user, password);
  };
  try {
    const r = await adminUnderFlood({
      port: api.address.port,
      ca: readFileSync(join(dir, API_CERT_FILE), 'utf8'),
      admin: ADMIN,
      user: ADMIN.username,
      single: 500,
      singleAddress: '127.0.0.2',
      spread: 500,
    });
    const fresh = [...r.freshLoginMs].sort((a, b) => a - b);
    console.log(
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(`flood: ${r.flood.attempts} guesses in ${r.flood.ms} ms`);
    for (const [k, v] of Object.entries(r.flood.outcomes).sort()) console.log(`  ${k}: ${v}`);
    console.log(`password checks made: ${checks} (goal < ${GOALS.maxChecks})`);
    console.log(
      `admin ListDrives: ${r.adminCalls} calls, p50 ${r.adminP50Ms} ms, p99 ${r.adminP99Ms} ms ` +
        `(goal < ${GOALS.adminP99Ms}), max ${r.adminMaxMs} ms, errors ${r.adminErrors}`,
    );
    console.log(
      `fresh admin logins: ${fresh.length}, median ${fresh[fresh.length >> 1] ?? 0} ms, ` +
        `max ${fresh[fresh.length - 1] ?? 0} ms, failed ${r.freshLoginFailures}`,
    );
    const met = r.adminP99Ms < GOALS.adminP99Ms && checks < GOALS.maxChecks;
    console.log(met ? 'goals met' : 'goals MISSED');
    process.exitCode = met ? 0 : 1;
  } finally {
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
