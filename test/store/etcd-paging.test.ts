// Pieces of the etcd backend that need no etcd: paging of long ranges (a page too large
// to receive is asked again smaller), the merging of compares past etcd's 128, and the
// end of a prefix's range.
import t from 'tap';
import { GRPCResourceExhastedError, type IRangeRequest, type IRangeResponse } from 'etcd3';
import { EtcdIo, prefixEnd } from '../../src/store/etcd/client';
import { mergeRanges } from '../../src/store/etcd/tx';

const B = (s: string) => Buffer.from(s);

/** A fake etcd range over keys k/0000..k/(n-1), refusing pages of more than `maxPage`. */
function fakeRange(n: number, maxPage: number, seen: IRangeRequest[]) {
  const keys = Array.from({ length: n }, (_, i) => B(`k/${String(i).padStart(4, '0')}`));
  return async (req: IRangeRequest): Promise<IRangeResponse> => {
    seen.push(req);
    if (Number(req.limit) > maxPage)
      throw new GRPCResourceExhastedError('received message larger than max');
    const from = keys.filter((k) => Buffer.compare(k, req.key!) >= 0);
    const page = from.slice(0, Number(req.limit));
    return {
      header: { cluster_id: '1', member_id: '1', revision: '77', raft_term: '1' },
      kvs: page.map((key) => ({
        key,
        value: B('1'),
        create_revision: '1',
        mod_revision: '1',
        version: '1',
        lease: '0',
      })),
      more: from.length > page.length,
      count: String(from.length),
    };
  };
}

t.test('a long range comes whole, its pages pinned to the first one’s revision', async (t) => {
  const io = new EtcdIo({ endpoints: ['http://127.0.0.1:1'], prefix: '/p/' }, undefined, 1000);
  t.teardown(() => io.close());
  const seen: IRangeRequest[] = [];
  const { kvs, revision } = await io.rangeAll(
    { key: B('k/'), range_end: B('k0') },
    fakeRange(2500, 5000, seen),
  );
  t.equal(kvs.length, 2500);
  t.equal(revision, 77);
  t.same(
    seen.map((r) => [Number(r.limit), r.revision]),
    [
      [1000, undefined],
      [1000, '77'],
      [1000, '77'],
    ],
  );
  t.same(seen[1].key, B('k/0999\u0000'), 'the next page starts just after the last key');
});

t.test('a page too large to receive is asked again an eighth the size', async (t) => {
  const io = new EtcdIo({ endpoints: ['http://127.0.0.1:1'], prefix: '/p/' }, undefined, 1000);
  t.teardown(() => io.close());
  const seen: IRangeRequest[] = [];
  const { kvs } = await io.rangeAll({ key: B('k/'), range_end: B('k0') }, fakeRange(300, 20, seen));
  t.equal(kvs.length, 300);
  t.same(
    seen.slice(0, 4).map((r) => Number(r.limit)),
    [1000, 125, 15, 15],
  );
  const none: IRangeRequest[] = [];
  const err = await io
    .rangeAll({ key: B('k/'), range_end: B('k0') }, fakeRange(10, 0, none))
    .catch((e: unknown) => e);
  t.ok(err instanceof GRPCResourceExhastedError, 'not even one key fits: the error stands');
});

t.test('compares past the budget merge into covering ranges', async (t) => {
  const ranges = Array.from({ length: 300 }, (_, i) => {
    const key = B(`/p/kv/${String(i).padStart(3, '0')}`);
    return { key, end: Buffer.concat([key, B('\u0000')]) };
  });
  const merged = mergeRanges(ranges, 127);
  t.ok(merged.length <= 127, `${merged.length} ranges`);
  for (const r of ranges) {
    t.ok(
      merged.some((m) => Buffer.compare(m.key, r.key) <= 0 && Buffer.compare(r.end, m.end) <= 0),
      `${r.key} covered`,
    );
  }
  t.equal(mergeRanges(ranges.slice(0, 5), 127).length, 5, 'under the budget: unchanged');
});

t.test('the end of a prefix range', async (t) => {
  t.same(prefixEnd(B('/ekmd/a/')), B('/ekmd/a0'));
  t.same(prefixEnd(Buffer.from([0x61, 0xff, 0xff])), B('b'));
});
