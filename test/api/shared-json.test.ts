// A shared serialization is made once per object and written by reference: a reply's
// pieces make exactly JSON.stringify's text of the same reply, the shared bytes are the
// same Buffer in every reply, and nothing a client can send is taken for a placeholder.
import t from 'tap';
import { SharedJson, replyPieces, sharedJson } from '../../src/api/shared-json';

const text = (pieces: Buffer[]) => Buffer.concat(pieces).toString('utf8');

const server = (id: number) => ({
  keyServerID: id,
  kmipKeyServerName: `zürich-€-${id}`,
  kmipKeyServerHostnames: ['kmip.example', '10.0.0.1'],
  kmipCaCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  keyProviderID: null,
  note: 'a "quoted" \\ text\u0000',
});

t.test('the pieces make the text JSON.stringify makes of the plain reply', async (t) => {
  const servers = [1, 2, 3].map(server);
  const reply = {
    id: 'ä-1',
    result: { kmipKeyServers: servers.map((s) => sharedJson(s)), one: sharedJson(servers[0]!) },
    unusedParameters: { bogus: 'string' },
  };
  const plain = { ...reply, result: { kmipKeyServers: servers, one: servers[0] } };
  t.equal(text(replyPieces(reply)), JSON.stringify(plain), 'byte for byte');
  t.same(JSON.parse(text(replyPieces(reply))), plain, 'and parses back to the values');
  t.equal(text(replyPieces({ list: [] })), '{"list":[]}', 'an empty list');
  t.equal(text(replyPieces({ a: [sharedJson(servers[1]!)] })), JSON.stringify({ a: [servers[1]] }));
});

t.test('one serialization per object, shared by every reply that carries it', async (t) => {
  const record = server(7);
  const first = sharedJson(record);
  t.equal(sharedJson(record), first, 'the same object gives the same serialization');
  t.not(sharedJson(server(7)), first, 'an equal but other object is serialized anew');
  const a = replyPieces({ id: 1, result: { list: [first] } });
  const b = replyPieces({ id: 2, result: { list: [first] } });
  t.ok(
    a.some((p) => p === first.bytes) && b.some((p) => p === first.bytes),
    'both replies hold the one Buffer, not copies',
  );
  t.equal(first.bytes.toString(), JSON.stringify(record));
  t.equal(
    first.bytes.buffer.byteLength,
    first.bytes.length,
    'its own allocation, not a pooled slab',
  );
});

t.test('no client text is taken for a placeholder', async (t) => {
  const record = server(1);
  const shared = sharedJson(record);
  // What a placeholder looks like, with every nonce a client could guess at.
  const lookalikes = ['\u00000:', '\u0000' + '0'.repeat(24) + ':0', '\\u0000', '"\u0000'];
  const reply = { id: 1, result: { names: lookalikes, list: [shared], after: lookalikes } };
  const plain = { id: 1, result: { names: lookalikes, list: [record], after: lookalikes } };
  t.equal(text(replyPieces(reply)), JSON.stringify(plain));
});

t.test('outside a reply (a log, a test) a shared value serializes as the value', async (t) => {
  const record = server(2);
  t.equal(JSON.stringify({ list: [sharedJson(record)] }), JSON.stringify({ list: [record] }));
  t.ok(sharedJson(record) instanceof SharedJson);
});

t.test('a reply without shared values is one piece', async (t) => {
  const pieces = replyPieces({ id: 3, result: { drives: [{ driveID: 1 }] } });
  t.equal(pieces.length, 1);
  t.equal(text(pieces), '{"id":3,"result":{"drives":[{"driveID":1}]}}');
});

t.test('a reply that fails to serialize leaves nothing behind', async (t) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.throws(() => replyPieces({ list: [sharedJson(server(4))], cyclic }), TypeError);
  const record = server(5);
  t.equal(
    JSON.stringify({ x: sharedJson(record) }),
    JSON.stringify({ x: record }),
    'a later stringify outside a reply is not collecting placeholders',
  );
});
