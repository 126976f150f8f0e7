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
