// The client's interop suite, run against every real key server we have (PyKMIP and the
// dev key server): every operation, batching, placeholders, negotiation, bad certificates,
// a server that is down, failover.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Test } from 'tap';
import {
  KmipClient,
  KmipError,
  KmipProvider,
  ops,
  type KmipServerOptions,
} from '../../../src/kmip/client';
import { ObjectType, ResultReason, State } from '../../../src/kmip/ttlv';
import type { DevPki } from '../../../scripts/pki/dev-pki';

export interface Target {
  kind: 'pykmip' | 'dev';
  port: number;
  pki: DevPki;
}

const pem = (p: string): string => readFileSync(p, 'utf8');

export function clientOptions(
  target: Target,
  over: Partial<KmipServerOptions> = {},
): KmipServerOptions {
  return {
    hostnames: ['127.0.0.1'],
    port: target.port,
    ca: pem(target.pki.ca),
    cert: pem(target.pki.client.cert),
    key: pem(target.pki.client.key),
    connectTimeoutMs: 3000,
    requestTimeoutMs: 5000,
    ...over,
  };
}

/** A port on 127.0.0.1 that nothing listens on. */
export function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Expect p to reject with a KmipError matching `expect`. */
export async function rejects(
  t: Test,
  p: Promise<unknown>,
  expect: Record<string, unknown>,
  msg: string,
) {
  try {
    await p;
    t.fail(`${msg}: expected a KmipError`);
  } catch (err) {
    t.ok(err instanceof KmipError, `${msg}: KmipError`);
    t.match(err, expect, msg);
  }
}

export function interopSuite(t: Test, target: Target): void {
  const tag = `${target.kind}-${process.pid}-${Date.now()}`;

  t.test('negotiates the first of our versions the server speaks', async (t) => {
    const c = new KmipClient(clientOptions(target));
    t.teardown(() => c.close());
    const info = await c.connect();
    t.same(info.version, { major: 1, minor: 4 });
    t.equal(info.endpoint, `127.0.0.1:${target.port}`);
    t.equal(info.tls.protocol === 'TLSv1.2' || info.tls.protocol === 'TLSv1.3', true);
    const all = await c.discoverVersions();
    t.same(all[0], { major: 2, minor: 0 }, 'server lists 2.0 first');
    const c2 = new KmipClient(
      clientOptions(target, {
        versions: [
          { major: 2, minor: 0 },
          { major: 1, minor: 4 },
        ],
      }),
    );
    t.teardown(() => c2.close());
    t.same((await c2.connect()).version, { major: 2, minor: 0 }, '2.0 when configured');
    const c3 = new KmipClient(clientOptions(target, { versions: [{ major: 3, minor: 0 }] }));
    t.teardown(() => c3.close());
    await rejects(t, c3.connect(), { stage: 'response' }, 'no common version');
  });

  for (const version of [
    { major: 1, minor: 0 },
    { major: 1, minor: 4 },
    { major: 2, minor: 0 },
  ]) {
    t.test(`every operation, KMIP ${version.major}.${version.minor} pinned`, async (t) => {
      const c = new KmipClient(clientOptions(target, { version }));
      t.teardown(() => c.close());
      const name = `${tag}-${version.major}${version.minor}`;
      const group = `${name}-group`;
      const created = await c.create({ names: [`${name}-mk`], objectGroups: [group] });
      t.equal(created.objectType, ObjectType.SymmetricKey);
      const ak = randomBytes(32);
      const akSha = createHash('sha256').update(ak).digest('hex');
      const akUid = await c.registerSecretData(Buffer.from(ak), {
        names: [`${name}-ak`],
        objectGroups: [group],
      });
      const symUid = await c.registerSymmetricKey(randomBytes(32), {
        cryptographicAlgorithm: 3,
        cryptographicLength: 256,
        cryptographicUsageMask: 12,
        names: [`${name}-sym`],
      });
      const got = await c.get(akUid);
      t.equal(got.objectType, ObjectType.SecretData);
      t.equal(got.secretDataType, 1, 'Password');
      t.equal(createHash('sha256').update(got.material).digest('hex'), akSha, 'same secret back');
      got.material.fill(0);
      const mk = await c.get(created.uniqueIdentifier);
      t.equal(mk.material.length, 32);
      t.equal(mk.cryptographicAlgorithm, 3);
      t.same(await c.locate({ names: [`${name}-ak`] }), [akUid], 'Locate by Name');
      t.same(
        await c.locate({ objectGroups: [group], objectType: ObjectType.SecretData }),
        [akUid],
        'Locate by Object Group + Object Type',
      );
      const attrs = await c.getAttributes(akUid);
      t.same(attrs.attributes.names, [`${name}-ak`]);
      t.equal(attrs.attributes.state, State.PreActive);
      await c.activate(symUid);
      t.equal((await c.getAttributes(symUid, ['state'])).attributes.state, State.Active);
      await rejects(
        t,
        c.destroy(symUid),
        { stage: 'kmip', resultReason: ResultReason.PermissionDenied },
        'Destroy while Active',
      );
      await c.revoke(symUid);
      t.equal((await c.getAttributes(symUid, ['state'])).attributes.state, State.Deactivated);
      for (const uid of [symUid, akUid, created.uniqueIdentifier])
        t.equal(await c.destroy(uid), uid);
      await rejects(
        t,
        c.get(akUid),
        { stage: 'kmip', resultReason: ResultReason.ItemNotFound },
        'Get after Destroy',
      );
      t.same(await c.locate({ names: [`${name}-ak`] }), [], 'destroyed objects are not located');
    });
  }

  t.test('one message, many items, per-item results', async (t) => {
    const c = new KmipClient(clientOptions(target));
    t.teardown(() => c.close());
    const uids: string[] = [];
    for (let i = 0; i < 3; i++)
      uids.push(await c.registerSecretData(Buffer.alloc(32, i + 1), { names: [`${tag}-b${i}`] }));
    const out = await c.getMany([uids[0]!, 'no-such-object', uids[1]!, uids[2]!]);
    t.equal(out.endpoint, `127.0.0.1:${target.port}`);
    t.equal(out.results.length, 4);
    t.same(
      out.results.map((r) => r.ok),
      [true, false, true, true],
    );
    const r0 = out.results[0]!;
    if (r0.ok) t.equal(r0.value.material[0], 1);
    const r3 = out.results[3]!;
    if (r3.ok) t.equal(r3.value.material[0], 3, 'results matched by batch item id');
    const r1 = out.results[1]!;
    if (!r1.ok)
      t.ok(
        ([ResultReason.ItemNotFound, ResultReason.PermissionDenied] as number[]).includes(
          r1.error.resultReason!,
        ),
      );
    for (const r of out.results) if (r.ok) r.value.material.fill(0);
    for (const u of uids) await c.destroy(u);
  });

  t.test('ID Placeholder: Create then Get Attributes and Get in one message', async (t) => {
    const c = new KmipClient(clientOptions(target));
    t.teardown(() => c.close());
    const { results } = await c.batch([
      ops.create({ names: [`${tag}-ph`] }),
      ops.getAttributes(undefined, ['names']),
      ops.get(),
    ] as const);
    const [cr, ga, g] = results;
    t.ok(cr.ok && ga.ok && g.ok, 'all succeeded');
    if (cr.ok && ga.ok && g.ok) {
      t.equal(ga.value.uniqueIdentifier, cr.value.uniqueIdentifier);
      t.same(ga.value.attributes.names, [`${tag}-ph`]);
      t.equal(g.value.material.length, 32);
      g.value.material.fill(0);
      await c.destroy(cr.value.uniqueIdentifier);
    }
  });

  t.test('a server signed by a CA we do not trust: tls stage', async (t) => {
    const c = new KmipClient(clientOptions(target, { ca: pem(target.pki.untrustedCa) }));
    t.teardown(() => c.close());
    await rejects(
      t,
      c.connect(),
      { stage: 'tls', endpoint: `127.0.0.1:${target.port}` },
      'untrusted server',
    );
  });

  t.test('a client certificate without clientAuth: auth stage', async (t) => {
    const c = new KmipClient(
      clientOptions(target, {
        cert: pem(target.pki.noClientAuth.cert),
        key: pem(target.pki.noClientAuth.key),
      }),
    );
    t.teardown(() => c.close());
    await rejects(t, c.connect(), { stage: 'auth' }, 'no clientAuth');
  });

  t.test('a client certificate from an unknown CA: auth stage', async (t) => {
    const c = new KmipClient(
      clientOptions(target, {
        cert: pem(target.pki.untrustedClient.cert),
        key: pem(target.pki.untrustedClient.key),
      }),
    );
    t.teardown(() => c.close());
    await rejects(t, c.connect(), { stage: 'auth' }, 'unknown client CA');
  });

  t.test('a server that is down: connect stage, then failover to the next', async (t) => {
    const dead = await deadPort();
    const down = new KmipClient(clientOptions(target, { port: dead }));
    await rejects(
      t,
      down.connect(),
      { stage: 'connect', code: 'ECONNREFUSED', endpoint: `127.0.0.1:${dead}` },
      'down',
    );
    const provider = new KmipProvider([
      clientOptions(target, { port: dead }),
      clientOptions(target),
    ]);
    t.teardown(() => provider.close());
    const out = await provider.batch([ops.query()] as const);
    t.equal(out.endpoint, `127.0.0.1:${target.port}`, 'the second server answered');
    t.ok(out.results[0].ok);
    const c = new KmipClient(clientOptions(target, { hostnames: ['localhost', '127.0.0.1'] }));
    t.teardown(() => c.close());
    t.match((await c.connect()).endpoint, /^(localhost|127\.0\.0\.1):/, 'hostnames of one server');
  });
}
