// Strings with NUL characters or lone UTF-16 surrogates are refused in every parameter,
// at any depth, with xInvalidParameter naming the member, and the store is unchanged.
import t from 'tap';
import { ContactRecorder } from './fixtures';
import { startNode } from './node';

t.test('NUL and lone surrogates are refused before anything is stored', async (t) => {
  const node = await startNode(t, new ContactRecorder());
  const { client } = node;
  const before = node.snapshot();
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['CreateKeyProviderKmip', { keyProviderName: 'prod\u0000x' }, /keyProviderName: .*NUL/],
    ['CreateKeyProviderKmip', { keyProviderName: 'prod\uD800' }, /keyProviderName: .*surrogate/],
    ['CreateKeyProviderKmip', { keyProviderName: '\uDC00prod' }, /keyProviderName: .*surrogate/],
    [
      'CreatePublicPrivateKeyPair',
      { commonName: 'node\u0000', country: 'US' },
      /commonName: .*NUL/,
    ],
    [
      'CreatePublicPrivateKeyPair',
      { commonName: 'node', country: 'US', organization: 'a\uDBFFb' },
      /organization: .*surrogate/,
    ],
    [
      'CreateKeyServerKmip',
      {
        kmipCaCertificate: 'ca',
        kmipClientCertificate: 'cert',
        kmipKeyServerHostnames: ['ok.example', 'bad\u0000.example'],
        kmipKeyServerName: 'kms',
      },
      /kmipKeyServerHostnames\[1\]: .*NUL/,
    ],
    ['CreateKeyProviderKmip', { keyProviderName: 'p', extra: { deep: ['\u0000'] } }, /extra/],
    ['CreateKeyProviderKmip', { keyProviderName: 'p', 'a\u0000': 1 }, /member name/],
  ];
  for (const [method, params, message] of cases) {
    const reply = await client.call(method, params);
    t.equal(reply.status, 200);
    t.equal(reply.error?.code, 500);
    t.equal(reply.error?.name, 'xInvalidParameter', `${method} ${JSON.stringify(params)}`);
    t.match(reply.error?.message, message);
    t.match(reply.error?.message, /^Invalid parameter /);
  }
  t.ok(node.snapshot() === before, 'the store is unchanged');

  // Well-formed text of every plane is still accepted.
  const ok = await client.ok('CreateKeyProviderKmip', { keyProviderName: 'clé \u{1F512} 鍵' });
  t.equal(ok.kmipKeyProvider.keyProviderName, 'clé \u{1F512} 鍵');
});

t.test('deeply nested params are checked without recursion, with a short path', async (t) => {
  const node = await startNode(t, new ContactRecorder());
  const n = 50_000;
  const deep = '['.repeat(n) + '"x\\u0000"' + ']'.repeat(n);
  const body = `{"method":"CreateKeyProviderKmip","id":1,"params":{"keyProviderName":"p","deep":${deep}}}`;
  const raw = await node.client.post('/json-rpc/12.3', body);
  t.equal(raw.status, 200);
  const reply = JSON.parse(raw.text) as { error?: { name: string; message: string } };
  t.equal(reply.error?.name, 'xInvalidParameter');
  t.match(reply.error?.message, /^Invalid parameter deep(\[0\]){15}: must not contain NUL/);
  t.ok(reply.error!.message.length < 200, 'the path is cut short');
});
