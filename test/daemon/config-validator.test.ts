import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { configValidator } from '../../src/daemon/config';
import { AJV_OPTIONS, GENERATED_VALIDATOR, configSchema } from '../../src/daemon/config-schema';

const daemonDir = join(__dirname, '../../src/daemon');

const good = () => ({ stateDir: 's', drives: { backend: 'sim', sim: { socket: 'x' } } });
const samples: unknown[] = [
  good(),
  {},
  [],
  'config',
  { ...good(), extra: 1, api: { listen: 5, tls: { cert: '' } } },
  { ...good(), drives: { backend: 'ioctl', roles: { '': 'volume', a: 'spare' } } },
  { ...good(), kmip: { version: '3.0', connectTimeoutMs: 0, requestTimeoutMs: 1.5 } },
  { ...good(), unlock: { retry: { maxDelayMs: 'x' }, metadataGraceSec: -1 }, log: {} },
  { ...good(), admin: { username: 'a' }, metrics: { listen: '' } },
  { ...good(), drives: { backend: 'sim', ioctl: { devices: [] } } },
];

t.test('the build generated the validator from the current schema, and it is used', async (t) => {
  t.ok(configValidator().generated, `${GENERATED_VALIDATOR} is present and matches the schema`);
});

t.test('the generated validator answers as Ajv compiling the schema does', async (t) => {
  const generated = configValidator().validate;
  const compiled = new Ajv(AJV_OPTIONS).compile(configSchema);
  for (const sample of samples) {
    const a = structuredClone(sample);
    const b = structuredClone(sample);
    t.equal(generated(a), compiled(b), JSON.stringify(sample));
    t.same(a, b, 'the same defaults');
    t.same(generated.errors ?? null, compiled.errors ?? null, 'the same errors');
  }
});

t.test('a missing or stale generated validator falls back to Ajv', async (t) => {
  // Inside the build, so that the copy resolves ajv's runtime helpers as the original does.
  const dir = mkdtempSync(join(__dirname, 'validator-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.notOk(configValidator(dir).generated, 'missing: compiled');
  const text = readFileSync(join(daemonDir, GENERATED_VALIDATOR), 'utf8');
  writeFileSync(
    join(dir, GENERATED_VALIDATOR),
    text.replace(/module\.exports\.schemaJson = .*\n/, 'module.exports.schemaJson = "{}";\n'),
  );
  const stale = configValidator(dir);
  t.notOk(stale.generated, 'from another schema: compiled');
  t.notOk(stale.validate({ stateDir: 's' }), 'and still validates');
});

t.test('loading and validating a config does not load Ajv itself', async (t) => {
  const config = join(daemonDir, 'config.js');
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(config)}).parseConfig(${JSON.stringify(good())}, { source: 'c', baseDir: '/' });
       process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => /node_modules\\/ajv\\//.test(k))));`,
    ],
    { encoding: 'utf8' },
  );
  t.equal(r.status, 0, r.stderr);
  const loaded = JSON.parse(r.stdout) as string[];
  t.same(
    loaded.filter((f) => !f.includes('/dist/runtime/')),
    [],
    'only the small runtime helpers the generated code uses',
  );
});
