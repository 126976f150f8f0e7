// The race between a provider's key servers, with scripted servers: who gets the request,
// how often, which server is reported, what happens to the others and to a late answer.
import t from 'tap';
import { KmipError, ops, type BatchOp } from '../../../src/kmip/client';
import type { KmipClient } from '../../../src/kmip/client/client';
import { hedgeDelayMs, isHedgeable } from '../../../src/kmip/client/hedging';
import { ServerRace } from '../../../src/kmip/client/server-race';

const DELAY = 40;
const NEVER = -1;

/** A key server as the race sees it: connects after `connectMs`, answers after `answerMs`. */
class ScriptedServer {
  readonly endpoints: string[];
  sent = 0;
  closes = 0;
  inFlight = 0;
  /** Key material of each answer it gave. */
  readonly answers: Buffer[] = [];
  private pending: ((err: KmipError) => void)[] = [];

  constructor(
    name: string,
    private readonly script: {
      connectMs: number;
      /** What its handshake is said to have taken (the hedge delay grows with it). */
      handshakeMs?: number;
      answerMs?: number;
      connectError?: KmipError;
      answerError?: KmipError;
      /** The answer is already on its way: closing does not stop it. */
      answerSurvivesClose?: boolean;
    },
    private readonly log: string[] = [],
  ) {
    this.endpoints = [name];
  }

  get client(): KmipClient {
    return this as unknown as KmipClient;
  }

  ready(): Promise<{ endpoint: string; handshakeMs: number }> {
    return this.after(this.script.connectMs, this.script.connectError, 'tls', () => ({
      endpoint: this.endpoints[0]!,
      handshakeMs: this.script.handshakeMs ?? 1,
    }));
  }

  batch(batch: readonly BatchOp<unknown>[]) {
    this.sent++;
    this.inFlight++;
    this.log.push(`${this.endpoints[0]} sent`);
    const answer = () => {
      const material = Buffer.alloc(32, 7);
      this.answers.push(material);
      return {
        endpoint: this.endpoints[0]!,
        version: { major: 1, minor: 4 },
        results: batch.map(() => ({ ok: true, value: { uniqueIdentifier: '1', material } })),
      };
    };
    const p = this.after(this.script.answerMs ?? 0, this.script.answerError, 'response', answer);
    return p.finally(() => {
      this.inFlight--;
      this.log.push(`${this.endpoints[0]} settled`);
    });
  }

  close(): void {
    this.closes++;
    const pending = this.pending;
    this.pending = [];
    for (const reject of pending) reject(new KmipError('tls', 'connection attempt abandoned'));
  }

  private after<T>(ms: number, err: KmipError | undefined, stage: string, value: () => T) {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (ms !== NEVER) timer = setTimeout(() => (err ? reject(err) : resolve(value())), ms);
      if (stage === 'response' && this.script.answerSurvivesClose) return;
      this.pending.push((e) => {
        clearTimeout(timer);
        reject(stage === 'response' ? new KmipError('response', 'closed by the client') : e);
      });
    });
  }
}

function race(servers: ScriptedServer[]): ServerRace {
  return new ServerRace(
    servers.map((s, index) => ({ index, client: s.client })),
    { connectDelayMs: DELAY },
  );
}

const gets = [ops.get('1'), ops.get('2')] as const;
const register = [ops.registerSecretData(Buffer.alloc(32, 1))] as const;
const refused = (name: string) =>
  new KmipError('connect', 'refused', { endpoint: name, code: 'ECONNREFUSED' });

t.test('reads are hedged, writes are not', async (t) => {
  t.ok(isHedgeable(gets));
  t.ok(isHedgeable([ops.getAttributes('1', ['state']), ops.locate({}), ops.query()]));
  t.notOk(isHedgeable(register));
  t.notOk(isHedgeable([ops.get('1'), ops.destroy('1')]), 'one write makes the batch a write');
  t.notOk(isHedgeable([ops.create(), ops.activate(), ops.revoke('1')]));
  t.notOk(isHedgeable([]));
  t.equal(hedgeDelayMs(10, 0, 250), 250, 'at least the connect delay');
  t.equal(hedgeDelayMs(100, 24, 250), 424, 'four handshakes, plus a millisecond per item');
  t.equal(hedgeDelayMs(5000, 0, 250), 2000, 'at most two seconds before the per-item allowance');
});

t.test(
  'first server never connects: the second answers, the first is closed and reported',
  async (t) => {
    const first = new ScriptedServer('a:1', { connectMs: NEVER });
    const second = new ScriptedServer('b:1', { connectMs: 5, answerMs: 5 });
    const r = race([first, second]);
    const out = await r.run(gets, true);
    t.equal(out.endpoint, 'b:1');
    t.equal(r.winner, 1);
    t.equal(first.sent, 0, 'nothing sent to the first');
    t.equal(second.sent, 1, 'the request sent once');
    t.ok(first.closes >= 1, 'the attempt on the first closed');
    t.equal(r.failures.length, 1);
    t.equal(r.failures[0]!.index, 0);
    t.equal(r.failures[0]!.error.stage, 'tls', 'at the stage it was stuck in');
    t.ok(r.failures[0]!.error.timedOut);
    t.match(r.failures[0]!.error.message, /no TLS handshake after \d+ ms; b:1 answered first/);
    t.same(r.healthy, [1]);
  },
);

t.test('first server connects but never answers a read: asked again at the second', async (t) => {
  const first = new ScriptedServer('a:1', { connectMs: 1, answerMs: NEVER });
  const second = new ScriptedServer('b:1', { connectMs: 1, answerMs: 1 });
  const r = race([first, second]);
  const out = await r.run(gets, true);
  t.equal(out.endpoint, 'b:1');
  t.equal(first.sent, 1, 'the first asked once');
  t.equal(second.sent, 1, 'the second asked once');
  t.equal(first.inFlight, 0, "the first's request ended by closing it");
  t.same(
    r.failures.map((f) => [f.index, f.error.stage]),
    [[0, 'response']],
    'the silent one reported',
  );
  t.match(r.failures[0]!.error.message, /no answer after \d+ ms/);
});

t.test('a write is never in flight at two servers', async (t) => {
  const log: string[] = [];
  const timedOut = new KmipError('response', 'no response within 300 ms', { timedOut: true });
  const first = new ScriptedServer(
    'a:1',
    { connectMs: 1, answerMs: 300, answerError: timedOut },
    log,
  );
  const second = new ScriptedServer('b:1', { connectMs: 1, answerMs: 1 }, log);
  const r = race([first, second]);
  const out = await r.run(register, false);
  t.equal(out.endpoint, 'b:1', 'the second took it once the first had failed');
  t.same(log, ['a:1 sent', 'a:1 settled', 'b:1 sent', 'b:1 settled'], 'one after the other');
  t.same(
    r.failures.map((f) => f.error.message),
    [timedOut.message],
    "the first's own failure reported",
  );
});

t.test('a write still races the connections', async (t) => {
  const first = new ScriptedServer('a:1', { connectMs: NEVER });
  const second = new ScriptedServer('b:1', { connectMs: 1, answerMs: 1 });
  const r = race([first, second]);
  t.equal((await r.run(register, false)).endpoint, 'b:1');
  t.equal(first.sent + second.sent, 1);
  t.same(
    r.failures.map((f) => f.index),
    [0],
  );
});

t.test('a slow server that connects after losing is healthy, not reported', async (t) => {
  // The first connects late (the second is started meanwhile) but before the second,
  // which holds the request within its hedge delay (~200 ms here), answers.
  const first = new ScriptedServer('a:1', { connectMs: 3 * DELAY, answerMs: 1 });
  const second = new ScriptedServer('b:1', { connectMs: 1, handshakeMs: 50, answerMs: 4 * DELAY });
  const r = race([first, second]);
  const out = await r.run(gets, true);
  t.equal(out.endpoint, 'b:1');
  t.equal(first.sent, 0, 'the first, connected, was not needed');
  t.same(r.failures, [], 'nobody reported');
  t.same([...r.healthy].sort(), [0, 1], 'both healthy');
  t.ok(first.closes >= 1, 'the loser closed');
});

t.test('a server asked after the winner and not done yet is not reported', async (t) => {
  const first = new ScriptedServer('a:1', { connectMs: 1, answerMs: 10 * DELAY });
  const second = new ScriptedServer('b:1', { connectMs: NEVER });
  const r = race([first, second]);
  const out = await r.run(gets, true);
  t.equal(out.endpoint, 'a:1');
  t.equal(r.winner, 0);
  t.same(r.failures, [], 'the second was not given its delay: no evidence against it');
  t.ok(second.closes >= 1, 'its connection attempt closed');
});

t.test("a loser's late answer is zeroed", async (t) => {
  const first = new ScriptedServer('a:1', {
    connectMs: 1,
    answerMs: 6 * DELAY,
    answerSurvivesClose: true,
  });
  const second = new ScriptedServer('b:1', { connectMs: 1, answerMs: 1 });
  const r = race([first, second]);
  const out = await r.run(gets, true);
  t.equal(out.endpoint, 'b:1');
  await new Promise((resolve) => setTimeout(resolve, 8 * DELAY));
  t.equal(first.answers.length, 1, 'the first answered late');
  t.ok(
    first.answers[0]!.every((b) => b === 0),
    'its key material zeroed',
  );
  t.notOk(
    second.answers[0]!.every((b) => b === 0),
    "the winner's left to the caller",
  );
});

t.test('every server failing: one error naming each', async (t) => {
  const r = race([
    new ScriptedServer('a:1', { connectMs: 1, connectError: refused('a:1') }),
    new ScriptedServer('b:1', { connectMs: 1, connectError: refused('b:1') }),
  ]);
  await t.rejects(r.run(gets, true), /all 2 endpoints failed/);
  t.same(
    r.failures.map((f) => f.index),
    [0, 1],
  );
  t.equal(r.winner, undefined);
});

t.test('a failure to connect starts the next server at once', async (t) => {
  const log: string[] = [];
  const r = race([
    new ScriptedServer('a:1', { connectMs: 1, connectError: refused('a:1') }, log),
    new ScriptedServer('b:1', { connectMs: 1, answerMs: 1 }, log),
  ]);
  const started = performance.now();
  await r.run(gets, true);
  // Far below the connect delay would be the point; bounded loosely for a loaded machine.
  t.ok(performance.now() - started < 20 * DELAY, 'not held for the delay');
  t.same(log, ['b:1 sent', 'b:1 settled']);
});

t.test('a KMIP refusal is an answer: no other server asked', async (t) => {
  const denied = new KmipError('kmip', 'Get failed (Permission Denied)');
  const first = new ScriptedServer('a:1', { connectMs: 1, answerMs: 1, answerError: denied });
  const second = new ScriptedServer('b:1', { connectMs: 1, answerMs: 1 });
  const r = race([first, second]);
  await t.rejects(r.run(gets, true), denied);
  t.equal(r.winner, 0);
  t.equal(second.sent, 0);
  t.same(r.failures, []);
});

t.test('connecting ahead of the request: the race starts before run()', async (t) => {
  const first = new ScriptedServer('a:1', { connectMs: NEVER });
  const second = new ScriptedServer('b:1', { connectMs: 1, answerMs: 1 });
  const r = race([first, second]);
  r.connect();
  await new Promise((resolve) => setTimeout(resolve, 3 * DELAY));
  t.equal(second.sent, 0, 'nothing sent before the request');
  t.equal((await r.run(gets, true)).endpoint, 'b:1', 'the second, already connected, took it');
  t.same(
    r.failures.map((f) => f.index),
    [0],
  );
});

t.test('abandoned: every attempt closed, the request fails', async (t) => {
  const first = new ScriptedServer('a:1', { connectMs: NEVER });
  const r = race([first]);
  const answer = r.run(gets, true);
  r.abandon();
  await t.rejects(answer, /closed/);
  t.ok(first.closes >= 1);
});
