// A start whose store does not answer (store-wait.ts): the open is tried again while it
// fails with "cannot answer now", any other failure ends the start, a stop ends the wait
// even while an open hangs; meanwhile the API answers "store unavailable" and READY=1 goes
// out once the early unlock's pass is over.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import pino from 'pino';
import type { EarlyOutcome } from '../../src/cluster/boot-unlock/early-unlock';
import type { Notifier } from '../../src/daemon/notify';
import {
  AwaitingStore,
  openStoreWhenReachable,
  Readiness,
  STORE_UNAVAILABLE,
} from '../../src/daemon/store-wait';
import { StoreError, StoreUnavailableError } from '../../src/store/errors';
import type { Store } from '../../src/store/store';
import { workdir } from './ekmd-process';

const logger = pino({ level: 'silent' });
function fakeStore(): Store & { closed: boolean } {
  const store = {
    closed: false,
    close: () => {
      store.closed = true;
      return Promise.resolve();
    },
  };
  return store as unknown as Store & { closed: boolean };
}

/** The retry timers are unref'd (they never hold a stopping daemon): hold the test's loop. */
function holdLoop(t: Test): void {
  const timer = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(timer));
}

t.test('an unreachable store is tried again until it opens', async (t) => {
  holdLoop(t);
  const store = fakeStore();
  let attempts = 0;
  const waiting: string[] = [];
  const opened = await openStoreWhenReachable(
    async () => {
      if (++attempts < 3) throw new StoreUnavailableError('etcd unreachable');
      return store;
    },
    {
      maxDelayMs: 20,
      logger,
      onWaiting: (err) => waiting.push(err.message),
      stopped: new Promise(() => {}),
    },
  );
  t.equal(opened, store);
  t.equal(attempts, 3);
  t.same(waiting, ['etcd unreachable'], 'told once that the store is awaited');
});

t.test('any other store error ends the start', async (t) => {
  await t.rejects(
    openStoreWhenReachable(() => Promise.reject(new StoreError('wrong prefix')), {
      maxDelayMs: 20,
      logger,
      onWaiting: () => t.fail('not waited for'),
      stopped: new Promise(() => {}),
    }),
    { message: 'wrong prefix' },
  );
});

t.test('a stop ends the wait while an open hangs; a late store is closed', async (t) => {
  const store = fakeStore();
  let resolveOpen!: (s: Store) => void;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const result = openStoreWhenReachable(
    () => new Promise<Store>((resolve) => (resolveOpen = resolve)),
    { maxDelayMs: 20, logger, onWaiting: () => {}, stopped },
  );
  stop();
  t.equal(await result, undefined, 'no store');
  resolveOpen(store);
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(store.closed, 'the store that opened too late is closed');
});

/** A notifier that records what it sent. */
function recordingNotifier(): Notifier & { sent: string[] } {
  const sent: string[] = [];
  return {
    enabled: true,
    sent,
    ready: () => !!sent.push('READY=1'),
    status: (text) => !!sent.push(`STATUS=${text}`),
    watchdog: () => true,
    stopping: () => !!sent.push('STOPPING=1'),
    startWatchdog: () => undefined,
    stopWatchdog: () => {},
  };
}

function post(port: number): Promise<{ status: number; retryAfter?: string; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/json-rpc', rejectUnauthorized: false },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            retryAfter: res.headers['retry-after'],
            body: JSON.parse(text),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ id: 1, method: 'ListDrives', params: {} }));
  });
}

t.test('while the store is awaited: "store unavailable", READY=1 after the pass', async (t) => {
  const work = workdir(t);
  const identity = () =>
    Promise.resolve({
      cert: readFileSync(join(work.dir, 'api.crt'), 'utf8'),
      key: readFileSync(join(work.dir, 'api.key')),
    });
  const notifier = recordingNotifier();
  let passOver!: (o: EarlyOutcome) => void;
  const early = new Promise<EarlyOutcome>((resolve) => (passOver = resolve));
  const awaiting = new AwaitingStore({
    readiness: new Readiness(notifier),
    listen: { host: '127.0.0.1', port: 0 },
    identity,
    early,
    logger,
  });
  awaiting.begin();
  awaiting.begin(); // once only
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(notifier.sent, [], 'no READY=1 while the early pass runs');
  passOver({
    bootID: 'b',
    unlocked: [1, 2],
    foundUnlocked: [3],
    failed: new Map(),
    guards: [],
    servers: new Map(),
    timings: [],
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(notifier.sent, [
    'STATUS=3 drives unlocked from the key plan; waiting for the store',
    'READY=1',
  ]);
  const address = await awaiting.end();
  t.ok(address && address.port > 0, 'where it listened');
  await t.rejects(post(address!.port), 'closed once the store is open');

  // Another, asked while it listens: every request gets the error.
  const again = new AwaitingStore({
    readiness: new Readiness(recordingNotifier()),
    listen: { host: '127.0.0.1', port: 0 },
    identity,
    logger,
  });
  again.begin();
  const at = await again.listening();
  t.ok(at && at.port > 0, 'listening');
  const answer = await post(at!.port);
  t.equal(answer.status, 503);
  t.equal(answer.retryAfter, '5');
  t.same(answer.body, { id: null, error: STORE_UNAVAILABLE });
  await again.end();
});
