import t from 'tap';
import { Writable } from 'node:stream';
import { componentLogger, createLogger, REDACTED, SECRET_FIELDS } from '../../src/daemon/log';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, stream };
}

t.test('secret fields are redacted at the top level and nested', async (t) => {
  const { lines, stream } = capture();
  const log = createLogger('info', stream);
  for (const field of SECRET_FIELDS) {
    log.info({ [field]: 'S3CRET', drive: { [field]: 'S3CRET', serial: 'SN1' } }, 'x');
    log.info({ a: { b: { c: { [field]: 'S3CRET' } } } }, 'deep');
  }
  t.equal(lines.length, SECRET_FIELDS.length * 2);
  t.notMatch(JSON.stringify(lines), /S3CRET/, 'no secret in any line');
  t.equal(lines[0][SECRET_FIELDS[0]], REDACTED);
  t.same(lines[0].drive, { [SECRET_FIELDS[0]]: REDACTED, serial: 'SN1' }, 'other fields kept');
});

t.test('component children and the configured level', async (t) => {
  const { lines, stream } = capture();
  const log = componentLogger(createLogger('warn', stream), 'store');
  log.info('dropped');
  log.warn({ pin: 'S3CRET' }, 'kept');
  t.equal(lines.length, 1);
  t.match(lines[0], { component: 'store', msg: 'kept', pin: REDACTED, name: 'ekmd' });
});

t.test('secrets under unlisted names and in Buffers never reach a line', async (t) => {
  const { lines, stream } = capture();
  const log = createLogger('trace', stream);
  const secretText = 'S3CRET-text-never-logged';
  const secretBytes = Buffer.from('5ec2e7b17e5ec2e7b17e5ec2e7b17e5e', 'hex');
  const pem = `-----BEGIN PRIVATE KEY-----\n${secretBytes.toString('base64')}\n-----END PRIVATE KEY-----`;
  class Drive {
    serial = 'SN1';
    unlockBlob = Buffer.from(secretBytes);
  }
  const leaky = Object.assign(new Error('ak rejected'), { keyBytes: Buffer.from(secretBytes) });
  const objects: Record<string, unknown>[] = [
    { clientKey: secretText },
    { pem },
    { certificate: pem },
    { tlsKeyPem: secretText },
    { masterKey: secretText, wrappingKey: secretText, kek: secretText },
    { blob: secretBytes },
    { bytes: new Uint8Array(secretBytes) },
    { arrayBuffer: Uint8Array.from(secretBytes).buffer },
    { drive: new Drive() },
    {
      drives: [
        { serial: 'SN2', material: secretBytes },
        { serial: 'SN3', authKey: secretText },
      ],
    },
    { a: { b: { c: { d: { e: { f: { clientSecret: secretText } } } } } } },
    { err: leaky },
    { cause: leaky },
    { json: secretBytes.toJSON() },
    { session: { psk: secretText, pinCode: secretText, apiToken: secretText } },
  ];
  for (const [i, o] of objects.entries()) {
    t.doesNotThrow(() => log.trace(o, 'secret-carrying object'), `object ${i} is logged`);
  }
  t.doesNotThrow(() => {
    const child = log.child({ clientKey: secretText, peer: { sessionKey: secretBytes } });
    child.trace({ drive: 1 }, 'from a child');
  }, 'a child with secret bindings logs');
  t.equal(lines.length, objects.length + 1, 'every line was written at trace level');
  const text = JSON.stringify(lines);
  const forms = [
    secretText,
    secretBytes.toString('hex'),
    secretBytes.toString('base64'),
    secretBytes.toString('base64url'),
    secretBytes.toString('latin1'),
    JSON.stringify([...secretBytes]).slice(1, -1),
    'PRIVATE KEY',
  ];
  for (const form of forms) t.notOk(text.includes(form), `no ${JSON.stringify(form)} in any line`);
  for (const hex of secretBytes.toString('hex').match(/.{8}/g)!) {
    t.notOk(text.includes(hex), `no run of the secret's bytes (${hex})`);
  }
});

t.test('identifiers and ordinary fields stay readable', async (t) => {
  const { lines, stream } = capture();
  const log = createLogger('info', stream);
  const fields = {
    keyID: 'k-1',
    keyServerID: 3,
    keyProviderID: 2,
    kmipUID: 'uid-9',
    keyProviderName: 'prod',
    serial: 'SN1',
    mapping: 'sda->sim:0',
    spinning: true,
    drive: { driveID: 4, keyID: 'k-2', state: 'locked' },
    ms: 1.5,
  };
  log.info(fields, 'ordinary');
  t.match(lines[0], fields);
});
