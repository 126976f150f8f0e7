// A large reply is produced as the client reads it: a piece is made only once the socket
// took the last one, so a slow client holds about a piece of its reply in the daemon
// rather than all of it. It goes out chunked; a reply that fits one piece keeps its
// Content-Length. Checked on a stream that takes a write only when the test lets it, then
// end to end over TLS: with the API's test client, HTTP/1.0, and Python's requests.
import t from 'tap';
import pino from 'pino';
import { execFile } from 'node:child_process';
import { connect } from 'node:tls';
import { Writable } from 'node:stream';
import { defineMethod } from '../../src/api';
import { noParams } from '../../src/api/method';
import { sendJson } from '../../src/api/http';
import { WRITE_PIECE_BYTES } from '../../src/api/json-pieces';
import { until } from '../helpers/until';
import { ContactRecorder, serverParams, withKeyPair } from './fixtures';
import { BOOTSTRAP, startNode } from './node';

const ELEMENT_BYTES = 4096;
const PER_PIECE = WRITE_PIECE_BYTES / ELEMENT_BYTES;
const KEY_SERVERS = 60;

/** A list whose elements count their serializations; one may throw instead. */
function countedList(length: number, throwAt = -1) {
  const made = { count: 0 };
  const list = Array.from({ length }, (_, i) => ({
    toJSON() {
      if (i === throwAt) throw new Error('element cannot be serialized');
      made.count++;
      return `${String(i).padStart(6, '0')}:${'k'.repeat(ELEMENT_BYTES - 10)}`;
    },
  }));
  return { made, list };
}

/** A stream standing for a response: keeps its headers, takes a write when let. */
class HeldResponse extends Writable {
  headers: Record<string, string | number> | undefined;
  readonly got: Buffer[] = [];
  private readonly waiting: (() => void)[] = [];
  constructor() {
    super({ highWaterMark: 16 * 1024 });
  }
  writeHead(_status: number, headers: Record<string, string | number>) {
    this.headers = headers;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.got.push(Buffer.from(chunk));
    this.waiting.push(done);
  }
  get held() {
    return this.waiting.length;
  }
  /** Lets the oldest write complete, and the turn it starts run. */
  async release() {
    this.waiting.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  text() {
    return Buffer.concat(this.got).toString('utf8');
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('the next piece is made only once the socket took the last', async (t) => {
  const { made, list } = countedList(20 * PER_PIECE + 3);
  const reply = { id: 1, result: { list } };
  const res = new HeldResponse();
  let finished = false;
  res.on('finish', () => (finished = true));
  sendJson(res, 200, reply);
  await tick();
  t.equal(res.headers?.['Content-Length'], undefined, 'no Content-Length: chunked');
  t.ok(made.count <= 2 * PER_PIECE + 1, `before the first drain: ${made.count} elements made`);
  t.equal(res.got.length, 1, 'one piece handed to the stream before it drained');
  let most = 0;
  while (res.held > 0) {
    const before = made.count;
    await res.release();
    most = Math.max(most, made.count - before);
    t.ok(res.held <= 1, 'never more than one piece waiting');
  }
  t.ok(most <= PER_PIECE + 1, `at most a piece made per drain (${most} elements)`);
  t.ok(
    res.got.every((p) => p.length <= WRITE_PIECE_BYTES),
    'no write larger than a piece',
  );
  t.equal(res.text(), JSON.stringify(reply), 'the pieces make JSON.stringify of the reply');
  t.ok(finished, 'ended');
});

t.test('a reply that fits one piece is one write with its Content-Length', async (t) => {
  const res = new HeldResponse();
  sendJson(res, 200, { id: 1, result: { note: 'zürich' } });
  await tick();
  await res.release();
  t.equal(
    res.headers?.['Content-Length'],
    Buffer.byteLength('{"id":1,"result":{"note":"zürich"}}'),
  );
  t.equal(res.got.length, 1);
  t.equal(res.text(), '{"id":1,"result":{"note":"zürich"}}');
});

t.test('a reply told small but larger than a piece keeps its length, goes in pieces', async (t) => {
  const reply = { id: 1, result: { text: '\u0001'.repeat(WRITE_PIECE_BYTES / 2) } };
  const res = new HeldResponse();
  sendJson(res, 200, reply);
  await tick();
  t.equal(res.headers?.['Content-Length'], Buffer.byteLength(JSON.stringify(reply)));
  t.equal(res.got.length, 1, 'a piece at a time');
  while (res.held > 0) await res.release();
  t.ok(res.got.length > 1 && res.got.every((p) => p.length <= WRITE_PIECE_BYTES));
  t.equal(res.text(), JSON.stringify(reply));
});

t.test('a piece that cannot be made cuts the connection; the log has no content', async (t) => {
  const { made, list } = countedList(10 * PER_PIECE, 4 * PER_PIECE);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const res = new HeldResponse();
  res.on('error', () => {});
  sendJson(res, 200, { id: 1, result: { list } }, logger);
  for (let i = 0; i < 20 && !res.destroyed; i++) await res.release();
  t.ok(res.destroyed, 'the stream is destroyed');
  t.equal(made.count, 4 * PER_PIECE, 'nothing made after the failure');
  t.equal(lines.length, 1, 'one log line');
  t.match(lines[0], /failed mid-stream/);
  t.match(lines[0], /"errType":"Error"/);
  t.notMatch(lines[0], /kkkk|cannot be serialized/, 'neither the reply nor the error text');
  t.equal(res.listenerCount('drain'), 0, 'no drain listener left');
});

t.test('a client that goes away stops the production', async (t) => {
  const { made, list } = countedList(50 * PER_PIECE);
  const res = new HeldResponse();
  sendJson(res, 200, { id: 1, result: { list } });
  await res.release();
  await res.release();
  const before = made.count;
  res.destroy();
  await tick();
  await res.release();
  await tick();
  t.equal(made.count, before, 'nothing made once the stream is destroyed');
  t.ok(made.count < 5 * PER_PIECE, `${made.count} elements of ${list.length} made`);
  t.equal(res.listenerCount('drain'), 0, 'no drain listener left');
  t.equal(res.listenerCount('close'), 0, 'no close listener left');
});

t.test('over TLS', async (t) => {
  const text = 'zürich-€-'.repeat(400_000); // ~5 MiB of UTF-8, multi-byte characters included
  const counted = countedList(500 * PER_PIECE); // ~8 MiB
  const methods = [
    defineMethod({ name: 'ListDrives', params: noParams, handler: () => ({ text }) }),
    defineMethod({
      name: 'ListClusterFaults',
      params: noParams,
      handler: () => ({ faults: counted.list }),
    }),
  ];
  const node = await startNode(t, new ContactRecorder(), { methods });
  const port = node.api.address.port;
  const auth =
    'Basic ' + Buffer.from(`${BOOTSTRAP.username}:${BOOTSTRAP.password}`).toString('base64');
  // Real key servers, each with its certificates: their list is a few pieces.
  const pki = await withKeyPair(node);
  for (let i = 0; i < KEY_SERVERS; i++) {
    await node.client.ok(
      'CreateKeyServerKmip',
      serverParams(pki, { kmipKeyServerName: `kms-${i}` }),
    );
  }
  const { kmipKeyServers: servers } = await node.client.ok('ListKeyServersKmip');
  t.ok(Buffer.byteLength(JSON.stringify(servers)) > 2 * WRITE_PIECE_BYTES, 'more than two pieces');

  t.test('a reply of several MiB reaches the client whole, chunked', async (t) => {
    const reply = await node.client.call('ListDrives');
    t.equal((reply.result as { text: string }).text, text, 'the whole reply, byte for byte');
    const raw = await node.client.post('/json-rpc/12.3', '{"method":"ListKeyServersKmip","id":3}');
    t.equal(raw.headers['transfer-encoding'], 'chunked');
    t.equal(raw.headers['content-length'], undefined);
    t.equal(raw.text, JSON.stringify({ id: 3, result: { kmipKeyServers: servers } }));
  });

  t.test('a small reply keeps its Content-Length', async (t) => {
    const raw = await node.client.post('/json-rpc/12.3', '{"method":"GetAPI","id":4}');
    t.equal(raw.headers['transfer-encoding'], undefined);
    t.equal(Number(raw.headers['content-length']), Buffer.byteLength(raw.text));
    t.ok(JSON.parse(raw.text).result.currentVersion);
  });

  t.test('an HTTP/1.0 client gets the reply delimited by the close', async (t) => {
    const body = '{"method":"ListKeyServersKmip","id":5}';
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write(
      `POST /json-rpc/12.3 HTTP/1.0\r\nHost: x\r\nAuthorization: ${auth}\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await new Promise((resolve) => socket.on('end', resolve));
    socket.destroy();
    const all = Buffer.concat(chunks).toString('utf8');
    const split = all.indexOf('\r\n\r\n');
    const head = all.slice(0, split).toLowerCase();
    t.match(head, /^http\/1\.1 200/);
    t.notMatch(head, /transfer-encoding|content-length/);
    t.match(head, /connection: close/);
    t.equal(all.slice(split + 4), JSON.stringify({ id: 5, result: { kmipKeyServers: servers } }));
  });

  t.test("Python's requests reads the chunked reply", async (t) => {
    const script = [
      'import hashlib, json, sys, requests, urllib3',
      'urllib3.disable_warnings()',
      'r = requests.post(sys.argv[1], data=\'{"method": "ListKeyServersKmip", "id": 0, "params": {}}\',',
      '                  auth=(sys.argv[2], sys.argv[3]), verify=False, timeout=60)',
      'print(json.dumps({"te": r.headers.get("Transfer-Encoding"),',
      '                  "n": len(r.json()["result"]["kmipKeyServers"]),',
      '                  "sha": hashlib.sha256(r.content).hexdigest()}))',
    ].join('\n');
    // Not spawnSync: the server answering it runs in this process.
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        '/usr/bin/python3',
        [
          '-c',
          script,
          `https://127.0.0.1:${port}/json-rpc/12.3`,
          BOOTSTRAP.username,
          BOOTSTRAP.password,
        ],
        { encoding: 'utf8', timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    if (/No module named 'requests'/.test(run.stderr)) {
      return void t.comment('skipped: python3-requests is not installed');
    }
    t.equal(run.code, 0, run.stderr);
    const got = JSON.parse(run.stdout) as { te: string; n: number; sha: string };
    const expected = JSON.stringify({ id: 0, result: { kmipKeyServers: servers } });
    const { createHash } = await import('node:crypto');
    t.same(got, {
      te: 'chunked',
      n: servers.length,
      sha: createHash('sha256').update(expected).digest('hex'),
    });
  });

  t.test('a client that goes away mid-reply stops its production', async (t) => {
    const body = '{"method":"ListClusterFaults","id":6}';
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    socket.write(
      `POST /json-rpc/12.3 HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await new Promise((resolve) => socket.once('data', resolve));
    socket.destroy();
    // The server learns of the close; production, waiting for a drain, never resumes.
    let last = -1;
    let since = Date.now();
    await until('the production to settle', () => {
      if (counted.made.count !== last) [last, since] = [counted.made.count, Date.now()];
      return Date.now() - since > 500;
    });
    t.ok(
      counted.made.count < counted.list.length / 4,
      `${counted.made.count} of ${counted.list.length} elements made`,
    );
  });

  // A reply is produced after its method returned: what the method returned must not
  // change meanwhile. The key servers' list shares the store's snapshot, which a change
  // replaces rather than edits.
  t.test('a listed reply does not change when the key servers do', async (t) => {
    const list = node.api.services.keyServers.list();
    const before = JSON.stringify(list);
    await node.client.ok('DeleteKeyServerKmip', { keyServerID: 2 });
    await node.client.ok('CreateKeyServerKmip', serverParams(pki, { kmipKeyServerName: 'new' }));
    t.equal(JSON.stringify(list), before, 'the list handed out is as it was');
    const now = node.api.services.keyServers.list();
    t.notOk(
      now.some((s) => s.keyServerID === 2),
      'a new list has the change',
    );
    t.equal(now.at(-1)!.kmipKeyServerName, 'new');
  });
});
