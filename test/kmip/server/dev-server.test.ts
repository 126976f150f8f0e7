// The dev key server as a process: persistence across kill -9, ownership by CN, fault
// injection from another process, bad input, and no key material in its logs.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import t from 'tap';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { KmipClient, KmipError, type KmipServerOptions } from '../../../src/kmip/client';
import { sendControl } from '../../../src/kmip/server';
import { ResultReason } from '../../../src/kmip/ttlv';
import { bin } from '../../helpers/paths';
import { rejects } from '../client/interop-suite';
import { kill9, startDevProcess } from './dev-process';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'ekmd-devsrv-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const pem = (p: string): string => readFileSync(p, 'utf8');

t.test('dev key server', async (top) => {
  const pki = await makeDevPki(join(dir, 'pki'));
  const state = join(dir, 'state');
  const control = join(dir, 'control.sock');
  let srv = await startDevProcess(top, pki, state, ['--control', control, '--log-level', 'debug']);
  const opts = (over: Partial<KmipServerOptions> = {}): KmipServerOptions => ({
    hostnames: ['127.0.0.1'],
    port: srv.port,
    ca: pem(pki.ca),
    cert: pem(pki.client.cert),
    key: pem(pki.client.key),
    connectTimeoutMs: 1000,
    requestTimeoutMs: 1000,
    ...over,
  });
  // The CLI is exercised once below; other faults go straight to the control socket.
  const inject = (...words: string[]) => sendControl(control, words);
  const injectCli = (...words: string[]) =>
    run(process.execPath, [
      bin.ekmctl,
      'kmip',
      'dev-server',
      'inject',
      '--control',
      control,
      ...words,
    ]);
  const secret = Buffer.from(
    '6b65792d6d6174657269616c2d6e657665722d6c6f676765642d313233343536',
    'hex',
  );

  let uid = '';
  await top.test('objects survive kill -9 and a restart; the file is 0600', async (t) => {
    const c = new KmipClient(opts());
    uid = await c.registerSecretData(Buffer.from(secret), { names: ['persist'] });
    c.close();
    t.equal(statSync(join(state, 'objects.json')).mode & 0o777, 0o600);
    const port = srv.port;
    await kill9(srv.child);
    srv = await startDevProcess(
      top,
      pki,
      state,
      ['--control', control, '--log-level', 'debug'],
      port,
    );
    const c2 = new KmipClient(opts());
    t.teardown(() => c2.close());
    const got = await c2.get(uid);
    t.same(got.material, secret);
    got.material.fill(0);
  });

  await top.test('objects belong to the certificate CN', async (t) => {
    const other = new KmipClient(opts({ cert: pem(pki.client2.cert), key: pem(pki.client2.key) }));
    t.teardown(() => other.close());
    await rejects(
      t,
      other.get(uid),
      { stage: 'kmip', resultReason: ResultReason.ItemNotFound },
      'rejects',
    );
    t.same(await other.locate({ names: ['persist'] }), []);
  });

  await top.test('reason NAME fails every operation with that reason', async (t) => {
    t.match((await injectCli('reason', 'PermissionDenied')).stdout, /^ok reason PermissionDenied/);
    const c = new KmipClient(opts());
    t.teardown(() => c.close());
    await rejects(
      t,
      c.get(uid),
      { stage: 'kmip', resultReason: ResultReason.PermissionDenied },
      'rejects',
    );
    await inject('clear');
    t.ok((await c.get(uid)).material.length, 'cleared');
  });

  await top.test('Discover Versions not supported: falls back to KMIP 1.0', async (t) => {
    await inject('reason', 'OperationNotSupported');
    const c = new KmipClient(opts());
    t.teardown(() => c.close());
    t.same((await c.connect()).version, { major: 1, minor: 0 });
    await inject('clear');
  });

  await top.test(
    'drop: an idle connection closed by the server is reopened transparently',
    async (t) => {
      const c = new KmipClient(opts());
      t.teardown(() => c.close());
      await c.get(uid);
      await inject('drop');
      await new Promise((r) => setTimeout(r, 50));
      const got = await c.get(uid);
      t.same(got.material, secret);
    },
  );

  await top.test('delay beyond the request timeout: response stage, timed out', async (t) => {
    const c = new KmipClient(opts({ requestTimeoutMs: 200 }));
    t.teardown(() => c.close());
    await c.connect();
    await inject('delay', '600');
    await rejects(t, c.get(uid), { stage: 'response', timedOut: true }, 'rejects');
    await inject('clear');
  });

  await top.test('stall: a black hole fails within the connect timeout', async (t) => {
    await inject('stall');
    const c = new KmipClient(opts({ connectTimeoutMs: 300 }));
    const started = Date.now();
    await rejects(t, c.connect(), { stage: 'tls', timedOut: true }, 'rejects');
    t.ok(Date.now() - started < 3000, 'gave up promptly');
    await inject('clear');
  });

  await top.test('refuse and garbage are endpoint failures', async (t) => {
    await inject('refuse');
    const c = new KmipClient(opts());
    const err = await c.connect().catch((e: unknown) => e);
    t.ok(err instanceof KmipError && err.isEndpointFailure, 'refused');
    await inject('garbage');
    const c2 = new KmipClient(opts());
    await rejects(t, c2.connect(), { stage: 'response', message: /malformed/ }, 'rejects');
    await inject('clear');
  });

  await top.test('bad inject commands change nothing', async (t) => {
    await t.rejects(injectCli('delay', 'soon'), { code: 2 });
    t.match(await inject('explode'), /^error: unknown fault/);
    const c = new KmipClient(opts());
    t.teardown(() => c.close());
    t.ok((await c.get(uid)).material.length, 'still serving');
  });

  await top.test('non-TTLV bytes from a client close that connection only', async (t) => {
    const sock = connect({
      host: '127.0.0.1',
      port: srv.port,
      ca: pem(pki.ca),
      cert: pem(pki.client.cert),
      key: pem(pki.client.key),
    });
    await new Promise<void>((resolve) => sock.once('secureConnect', () => resolve()));
    sock.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closed;
    t.pass('connection closed');
    const c = new KmipClient(opts());
    t.teardown(() => c.close());
    t.ok((await c.get(uid)).material.length, 'server still serving');
  });

  top.test('key material never reaches the log', async (t) => {
    const log = srv.stderr();
    t.ok(log.length > 0, 'debug logging was on');
    t.notOk(log.includes(secret.toString('hex')), 'no hex');
    t.notOk(log.includes(secret.toString('base64')), 'no base64');
    t.notOk(log.includes(secret.toString('latin1')), 'no raw');
  });
});
