// A large reply leaves in pieces, each once the last has left for the socket, so a slow
// client holds at most a piece of it in the daemon's buffers rather than all of it (as
// TLS ciphertext). Checked on a stream that takes a write only when the test lets it,
// then end to end: a reply of several MiB, multi-byte characters included, arrives whole.
import t from 'tap';
import { Writable } from 'node:stream';
import { defineMethod } from '../../src/api';
import { noParams } from '../../src/api/method';
import { WRITE_PIECE_BYTES, writeInPieces } from '../../src/api/http';
import { ContactRecorder } from './fixtures';
import { startNode } from './node';

t.test('a large body is written a piece at a time, the next after a drain', async (t) => {
  const body = Buffer.alloc(5 * WRITE_PIECE_BYTES + 123, 'x');
  const pending: (() => void)[] = [];
  const got: Buffer[] = [];
  let finished = 0;
  const slow = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, done) {
      got.push(Buffer.from(chunk));
      pending.push(done);
    },
  });
  slow.on('finish', () => finished++);
  writeInPieces(slow, [body]);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(got.length, 1, 'one piece handed to the stream before it drained');
  t.equal(got[0]!.length, WRITE_PIECE_BYTES, 'a piece is WRITE_PIECE_BYTES');
  while (pending.length) {
    pending.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    t.ok(pending.length <= 1, 'never more than one piece waiting');
  }
  t.equal(got.length, 6, 'five whole pieces and the rest');
  t.ok(Buffer.concat(got).equals(body), 'the pieces make the body');
  t.equal(finished, 1, 'ended once');
});

t.test('a small body is one write and the end', async (t) => {
  const got: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      got.push(Buffer.from(chunk));
      done();
    },
  });
  const ended = new Promise((resolve) => sink.on('finish', resolve));
  writeInPieces(sink, [Buffer.from('{"id":1,"result":{}}')]);
  await ended;
  t.same(Buffer.concat(got).toString(), '{"id":1,"result":{}}');
});

t.test(
  'many small pieces go out in groups of at most a piece size, cut only at a boundary',
  async (t) => {
    // 300 pieces of 1,000 bytes: groups of 65,536 bytes end inside a piece.
    const pieces = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1000, 65 + (i % 26)));
    const body = Buffer.concat(pieces);
    const writes: number[] = [];
    const pending: (() => void)[] = [];
    const got: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      writev(chunks, done) {
        writes.push(chunks.reduce((n, c) => n + (c.chunk as Buffer).length, 0));
        for (const c of chunks) got.push(Buffer.from(c.chunk as Buffer));
        pending.push(done);
      },
    });
    const finished = new Promise((resolve) => slow.on('finish', resolve));
    writeInPieces(slow, pieces);
    await new Promise((resolve) => setImmediate(resolve));
    t.equal(writes.length, 1, 'one group handed over before the stream drained');
    while (pending.length) {
      pending.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
      t.ok(pending.length <= 1, 'never more than one group waiting');
    }
    await finished;
    t.same(
      writes,
      [65536, 65536, 65536, 65536, 37856],
      'groups of WRITE_PIECE_BYTES, then the rest',
    );
    t.ok(Buffer.concat(got).equals(body), 'the groups make the body, in order');
  },
);

t.test('a reply of several MiB reaches the client whole', async (t) => {
  const text = 'zürich-€-'.repeat(400_000); // ~5 MiB of UTF-8, multi-byte characters included
  const big = defineMethod({ name: 'ListDrives', params: noParams, handler: () => ({ text }) });
  const node = await startNode(t, new ContactRecorder(), { methods: [big] });
  const reply = await node.client.call('ListDrives');
  t.equal((reply.result as { text: string }).text, text, 'the whole reply, byte for byte');
});
