import t from 'tap';
import { FrameReader } from '../../../src/kmip/client/framing';
import { TtlvError } from '../../../src/kmip/ttlv';

// A 24-byte message: an empty Response Message holding one 16-byte Integer.
const msg = Buffer.from('42007b0100000010' + '42000d020000000400000001' + '00000000', 'hex');

t.test('messages split across chunks and joined in one chunk', async (t) => {
  const r = new FrameReader(1024);
  const stream = Buffer.concat([msg, msg]);
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += 5)
    out.push(...r.push(Buffer.from(stream.subarray(i, i + 5))));
  t.equal(out.length, 2);
  for (const m of out) t.same(m, msg);
  t.equal(r.pending, 0);
  const both = r.push(Buffer.from(stream));
  t.equal(both.length, 2);
});

t.test('a partial message waits for the rest', async (t) => {
  const r = new FrameReader(1024);
  t.same(r.push(Buffer.from(msg.subarray(0, 7))), []);
  t.same(r.push(Buffer.from(msg.subarray(7, 20))), []);
  t.equal(r.pending, 20);
  t.same(r.push(Buffer.from(msg.subarray(20))), [msg]);
});

t.test('garbage and oversized headers are refused before buffering', async (t) => {
  t.throws(() => new FrameReader(1024).push(Buffer.from('hello, world!!!!')), TtlvError);
  const huge = Buffer.from('42007b0100100000', 'hex');
  t.throws(() => new FrameReader(1024).push(huge), /exceeds/);
});

t.test('clear zeroes what was buffered', async (t) => {
  const r = new FrameReader(1024);
  const chunk = Buffer.from(msg.subarray(0, 20));
  r.push(chunk);
  r.clear();
  t.ok(chunk.every((b) => b === 0));
  t.equal(r.pending, 0);
});
