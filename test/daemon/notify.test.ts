import t from 'tap';
import pino from 'pino';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNotifier, notifySocketAddress } from '../../src/daemon/notify';
import { NotifyListener } from '../systemd/notify-listener';
import { bin, repoRoot } from '../helpers/paths';
import { workdir } from './ekmd-process';

const notifyModule = join(repoRoot, 'dist/src/daemon/notify.js');
const STATUS = 'STATUS=unlocked 10/12 drives; 2 waiting for key server';

/** Run `body` in a fresh node process with `createNotifier()` bound to `n`; resolve its stdout. */
function runChild(t: tap.Test, env: NodeJS.ProcessEnv, body: string): Promise<string> {
  const script = `const n = require(${JSON.stringify(notifyModule)}).createNotifier();\n${body}`;
  const env0 = { ...process.env };
  delete env0.NOTIFY_SOCKET;
  delete env0.WATCHDOG_USEC;
  delete env0.WATCHDOG_PID;
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...env0, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`child exited ${code}: ${err}`));
    });
  });
}

function tempSocketPath(t: tap.Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'notify.sock');
}

function listen(t: tap.Test, address: string): NotifyListener {
  const listener = new NotifyListener(address);
  t.teardown(() => listener.close());
  return listener;
}

function captureLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

// The unref'd watchdog timer must neither hold the child open nor be skipped: the child
// ends on its own after STOPPING=1 with the interval still armed.
const lifecycle = `
const period = n.startWatchdog();
n.status('unlocked 10/12 drives; 2 waiting for key server');
n.ready();
setTimeout(() => { n.stopping(); console.log(JSON.stringify({ period })); }, 130);
`;

function checkLifecycle(t: tap.Test, got: string[]) {
  t.same(got.slice(0, 2), [STATUS, 'READY=1'], 'status then ready');
  const pings = got.slice(2, -1);
  t.ok(pings.length >= 1, 'at least one watchdog ping before stopping');
  t.same(pings, Array(pings.length).fill('WATCHDOG=1'), 'only watchdog pings in between');
  t.equal(got[got.length - 1], 'STOPPING=1', 'stopping last');
}

t.test('a child sends READY, STATUS, WATCHDOG and STOPPING to a filesystem socket', async (t) => {
  const listener = listen(t, tempSocketPath(t));
  const out = await runChild(
    t,
    { NOTIFY_SOCKET: listener.address, WATCHDOG_USEC: '100000' },
    lifecycle,
  );
  t.same(JSON.parse(out), { period: 50 }, 'watchdog at half of WATCHDOG_USEC');
  checkLifecycle(t, listener.drain());
});

t.test('a child sends to an abstract-namespace socket', async (t) => {
  const listener = listen(t, `@ekmd-notify-test-${randomBytes(6).toString('hex')}`);
  await runChild(
    t,
    { NOTIFY_SOCKET: listener.address, WATCHDOG_USEC: '100000' },
    // WATCHDOG_PID is systemd's pid for the process it watches: here, the child itself.
    `process.env.WATCHDOG_PID = String(process.pid);\n${lifecycle}`,
  );
  checkLifecycle(t, listener.drain());
});

t.test('without NOTIFY_SOCKET every call is a no-op and koffi is never loaded', async (t) => {
  const out = await runChild(
    t,
    {},
    `console.log(JSON.stringify({
      enabled: n.enabled,
      sent: [n.ready(), n.status('x'), n.watchdog(), n.stopping()],
      watchdog: n.startWatchdog() ?? null,
      koffi: Object.keys(require.cache).some((k) => k.includes('/node_modules/koffi/')),
    }));`,
  );
  t.same(JSON.parse(out), {
    enabled: false,
    sent: [false, false, false, false],
    watchdog: null,
    koffi: false,
  });
});

t.test('a status text cannot smuggle in a second assignment', async (t) => {
  const listener = listen(t, tempSocketPath(t));
  const n = createNotifier({ env: { NOTIFY_SOCKET: listener.address } });
  t.equal(n.status('one\nREADY=1\r\ntwo'), true);
  t.same(listener.drain(), ['STATUS=one READY=1 two']);
});

t.test('the watchdog is left to the process systemd watches', async (t) => {
  const listener = listen(t, tempSocketPath(t));
  const env = { NOTIFY_SOCKET: listener.address, WATCHDOG_USEC: '30000000' };
  const other = createNotifier({ env: { ...env, WATCHDOG_PID: String(process.pid + 1) } });
  t.equal(other.startWatchdog(), undefined, 'another pid: no timer');
  const mine = createNotifier({ env: { ...env, WATCHDOG_PID: String(process.pid) } });
  t.equal(mine.startWatchdog(), 15000, 'our pid: half of WATCHDOG_USEC');
  mine.stopWatchdog();
  const unset = createNotifier({ env: { NOTIFY_SOCKET: listener.address } });
  t.equal(unset.startWatchdog(), undefined, 'no WATCHDOG_USEC: no timer');
  const { logger, lines } = captureLogger();
  const bad = createNotifier({ env: { ...env, WATCHDOG_USEC: '15s' }, logger });
  t.equal(bad.startWatchdog(), undefined, 'malformed WATCHDOG_USEC: no timer');
  t.match(lines.join(''), /malformed WATCHDOG_USEC/);
  t.same(listener.drain(), [], 'nothing was sent');
});

t.test('a bad NOTIFY_SOCKET disables notifications with a warning, never a throw', async (t) => {
  for (const value of ['relative/notify.sock', `/${'x'.repeat(108)}`, `@${'x'.repeat(108)}`]) {
    const { logger, lines } = captureLogger();
    const n = createNotifier({ env: { NOTIFY_SOCKET: value }, logger });
    t.equal(n.enabled, false, value.slice(0, 24));
    t.equal(n.ready(), false);
    t.match(lines.join(''), /systemd notifications disabled/);
  }
});

t.test('a socket nobody listens on fails softly, warning once', async (t) => {
  const { logger, lines } = captureLogger();
  const n = createNotifier({ env: { NOTIFY_SOCKET: tempSocketPath(t) }, logger });
  t.equal(n.enabled, true);
  t.equal(n.ready(), false);
  t.equal(n.watchdog(), false);
  const entries = lines.map((l) => JSON.parse(l) as { level: number; error: string });
  t.same(
    entries.map((e) => [e.level, e.error]),
    [
      [40, 'ENOENT'],
      [20, 'ENOENT'],
    ],
    'warn, then debug',
  );
});

t.test('socket addresses have the kernel layout', async (t) => {
  const path = notifySocketAddress('/run/systemd/notify');
  t.equal(path.length, 2 + '/run/systemd/notify'.length + 1, 'path includes its NUL');
  t.equal(path.addr.readUInt16LE(0), 1, 'AF_UNIX');
  t.equal(path.addr.toString('utf8', 2, path.length - 1), '/run/systemd/notify');
  const abs = notifySocketAddress('@sd');
  t.equal(abs.length, 2 + 1 + 2, 'abstract: leading NUL, no trailing NUL');
  t.same([...abs.addr.subarray(2, abs.length)], [0, 0x73, 0x64]);
});

t.test('ekmd itself notifies READY, WATCHDOG, then STOPPING on SIGTERM', async (t) => {
  const w = workdir(t);
  const listener = listen(t, `@ekmd-daemon-notify-${randomBytes(6).toString('hex')}`);
  const env: NodeJS.ProcessEnv = { ...process.env, WATCHDOG_USEC: '100000' };
  delete env.WATCHDOG_PID;
  const child = spawn(process.execPath, [bin.ekmd, '--config', w.config], {
    env: { ...env, NOTIFY_SOCKET: listener.address },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  // Bounds for a loaded machine, not timings under test; an early exit fails at once.
  const diedEarly = exited.then((code) => {
    throw new Error(`ekmd exited ${code} while running: ${output}`);
  });
  diedEarly.catch(() => undefined);
  const got = await Promise.race([listener.waitFor('READY=1', 60_000), diedEarly]);
  got.push(...(await Promise.race([listener.waitFor('WATCHDOG=1', 10_000), diedEarly])));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'clean exit on SIGTERM');
  got.push(...listener.drain());

  // STATUS= lines may come at any point before STOPPING; the rest has a fixed order.
  const stopAt = got.indexOf('STOPPING=1');
  t.ok(
    got.every((m, i) => !m.startsWith('STATUS=') || i < stopAt),
    'status lines before stopping',
  );
  const states = got.filter((m) => !m.startsWith('STATUS='));
  t.equal(states[0], 'READY=1', 'ready first');
  t.equal(states[states.length - 1], 'STOPPING=1', 'stopping last');
  const between = states.slice(1, -1);
  t.ok(between.length >= 1, 'watchdog pings while running');
  t.same(between, Array(between.length).fill('WATCHDOG=1'), 'only watchdog pings in between');
});
