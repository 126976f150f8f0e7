import t from 'tap';
import { ContactRecorder } from './fixtures';
import { startNode } from './node';

t.test('JSON-RPC envelope', async (t) => {
  const node = await startNode(t, new ContactRecorder());
  const { client } = node;

  t.test('GetAPI answers on every version path, including 7.0 and bare /json-rpc', async (t) => {
    for (const path of [
      '/json-rpc/7.0',
      '/json-rpc/1.0',
      '/json-rpc/11.7',
      '/json-rpc/12.3',
      '/json-rpc/12.9',
      '/json-rpc',
    ]) {
      const reply = await client.post(
        path,
        JSON.stringify({ method: 'GetAPI', id: 0, params: {} }),
      );
      t.equal(reply.status, 200, path);
      const { result } = JSON.parse(reply.text);
      t.equal(result.currentVersion, '12.3', path);
      t.ok(result.supportedVersions.includes('7.0') && result.supportedVersions.includes('12.3'));
      t.ok(result['12.3'].includes('ListKeyServersKmip'), 'methods listed under currentVersion');
    }
  });

  t.test('unsupported versions and other paths are 404; GET is 405', async (t) => {
    for (const path of ['/json-rpc/13.0', '/json-rpc/0.9', '/json-rpc/abc', '/', '/api']) {
      const reply = await client.post(path, '{"method":"GetAPI"}');
      t.equal(reply.status, 404, path);
    }
    const get = await client.post('/json-rpc/12.3', '', { method: 'GET' });
    t.equal(get.status, 405);
    t.equal(get.headers.allow, 'POST');
  });

  t.test('ids are echoed; an absent id is null', async (t) => {
    const first = await client.call('GetAPI');
    t.type(first.id, 'number');
    const second = await client.call('GetAPI');
    t.equal(second.id, (first.id as number) + 1, 'integer ids count up as the SDK sends them');
    const named = await client.post('/json-rpc/12.3', '{"method":"GetAPI","id":"abc"}');
    t.equal(JSON.parse(named.text).id, 'abc');
    const none = await client.post('/json-rpc/12.3', '{"method":"GetAPI"}');
    t.same(JSON.parse(none.text).id, null);
  });

  t.test('method names match case-insensitively', async (t) => {
    for (const name of ['getapi', 'GETAPI', 'listkeyserverskmip', 'ListKeyServersKMIP']) {
      const reply = await client.call(name);
      t.ok(reply.result, name);
    }
  });

  t.test('no Content-Type, Trident\'s "json-rpc", or a jsonrpc member all work', async (t) => {
    const body = '{"method":"GetAPI","id":7}';
    const headerSets: Record<string, string>[] = [
      {},
      { 'Content-Type': 'json-rpc' },
      { 'Content-Type': 'application/json-rpc' },
    ];
    for (const headers of headerSets) {
      const reply = await client.post('/json-rpc/12.3', body, { headers });
      t.equal(JSON.parse(reply.text).result.currentVersion, '12.3');
    }
    const withJsonrpc = await client.post(
      '/json-rpc/12.3',
      '{"jsonrpc":"2.0","method":"GetAPI","id":1}',
    );
    t.equal(JSON.parse(withJsonrpc.text).result.currentVersion, '12.3');
  });

  t.test('errors are HTTP 200 with code 500 and an x-name', async (t) => {
    const cases: [string, string][] = [
      ['{"method":"NoSuchMethod","id":1}', 'xUnknownAPIMethod'],
      ['{"method": "GetAPI", ', 'xInvalidJSON'],
      ['', 'xInvalidJSON'],
      ['[{"method":"GetAPI"}]', 'xInvalidRequest'],
      ['"GetAPI"', 'xInvalidRequest'],
      ['{"id":1}', 'xInvalidRequest'],
      ['{"method":5}', 'xInvalidRequest'],
      ['{"method":"GetAPI","id":{}}', 'xInvalidRequest'],
      ['{"method":"GetKeyServerKmip","params":[1]}', 'xInvalidParameter'],
    ];
    for (const [body, name] of cases) {
      const reply = await client.post('/json-rpc/12.3', body);
      t.equal(reply.status, 200, body);
      const json = JSON.parse(reply.text);
      t.equal(json.error.code, 500, body);
      t.equal(json.error.name, name, body);
      t.type(json.error.message, 'string');
      t.notOk('result' in json);
    }
    const unknown = await client.call('NoSuchMethod');
    t.match(unknown.error?.message, /method=NoSuchMethod/);
  });

  t.test('unknown params are tolerated and listed without their values', async (t) => {
    const reply = await client.call('ListKeyServersKmip', { bogus: 'secret-value', other: 3 });
    t.same(reply.result, { kmipKeyServers: [] });
    t.same(reply.unusedParameters, { bogus: 'string', other: 'number' });
    t.notMatch(JSON.stringify(reply), /secret-value/);
  });

  t.test('a body over the limit is refused with 413 and a JSON-RPC error', async (t) => {
    const huge = JSON.stringify({ method: 'GetAPI', params: { pad: 'x'.repeat(1100 * 1024) } });
    const reply = await client.post('/json-rpc/12.3', huge);
    t.equal(reply.status, 413);
    t.equal(JSON.parse(reply.text).error.name, 'xRequestTooLarge');
    const after = await client.call('GetAPI');
    t.ok(after.result, 'the server still answers, on the same kept-alive connection');
    const declared = await client.post('/json-rpc/12.3', '{}', {
      headers: { 'Content-Length': String(64 * 1024 * 1024) },
    });
    t.equal(declared.status, 413, 'a declared 64 MiB body is refused before it is read');
    t.equal(declared.headers.connection, 'close');
  });
});
