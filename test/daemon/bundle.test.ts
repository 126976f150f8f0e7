// The daemon as it ships: one bundle file with a code cache made by the build. A fresh
// process loads it with the cache accepted and no other ekmd module file; a cache made from
// other source is never used, even one V8 would take (same length); no bundle, no program.
// The bundle leaves out node modules a boot does not need (assert, fs/promises).
import t from 'tap';
import { isAscii } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asciiOnly, cacheFileOf, loadBundle } from '../../src/daemon/bundle-loader';
import { BUNDLE_FILE } from '../../src/daemon/main';

const DAEMON = join(__dirname, '../../src/daemon');
const BUNDLE = join(DAEMON, BUNDLE_FILE);
const LOADER = join(DAEMON, 'bundle-loader.js');

/** In a fresh process: load `bundle`; whether its cache was used and which files were loaded. */
function loadInFreshProcess(bundle: string): { cacheUsed: boolean; run: string; loaded: string[] } {
  const script = `
    const b = require(${JSON.stringify(LOADER)}).loadBundle(${JSON.stringify(bundle)});
    console.log(JSON.stringify({ cacheUsed: b.cacheUsed, run: typeof b.exports.run, loaded: Object.keys(require.cache) }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { cacheUsed: boolean; run: string; loaded: string[] };
}

t.test('the built bundle loads with its code cache and no other ekmd module', async (t) => {
  const { cacheUsed, run, loaded } = loadInFreshProcess(BUNDLE);
  t.equal(cacheUsed, true, 'the code cache was accepted');
  t.equal(run, 'function', 'the program is there');
  const ours = loaded.filter((f) => f.includes(`${join('dist', 'src')}`));
  t.same(ours, [LOADER], 'only the loader is a separate module file');
  for (const pkg of ['node-forge', 'prom-client', 'ajv']) {
    t.notOk(
      loaded.some((f) => f.includes(join('node_modules', pkg))),
      `${pkg} is not loaded by the bundle`,
    );
  }
});

t.test('a cache made from other source is not used, even of the same length', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bundle = join(dir, BUNDLE_FILE);
  const source = readFileSync(BUNDLE, 'utf8');
  const marker = '"use strict";';
  t.ok(source.includes(marker));
  // Same length, other code: V8's own check (the length) would accept the cache.
  writeFileSync(bundle, source.replace(marker, "'use strict';"));
  copyFileSync(cacheFileOf(BUNDLE), cacheFileOf(bundle));
  const changed = loadInFreshProcess(bundle);
  t.equal(changed.cacheUsed, false, 'the cache was refused by its hash');
  t.equal(changed.run, 'function', 'the bundle still runs, compiled afresh');

  writeFileSync(bundle, source);
  t.equal(loadInFreshProcess(bundle).cacheUsed, true, 'the same source takes the same cache');

  writeFileSync(cacheFileOf(bundle), Buffer.alloc(10));
  t.equal(loadInFreshProcess(bundle).cacheUsed, false, 'a truncated cache is ignored');
});

t.test(
  'a boot from the bundle loads neither node:assert, node:fs/promises nor a validator file',
  async (t) => {
    // A config whose stateDir is a file: run() loads every boot module, then fails (exit 1).
    const dir = mkdtempSync(join(tmpdir(), 'ekmd-bundle-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'ekmd.json');
    writeFileSync(
      config,
      JSON.stringify({ stateDir: config, drives: { backend: 'sim', sim: { socket: 'sim.sock' } } }),
    );
    const script = `
    const b = require(${JSON.stringify(LOADER)}).loadBundle(${JSON.stringify(BUNDLE)});
    b.exports.run(['--config', ${JSON.stringify(config)}]);
    process.on('exit', () => console.log(JSON.stringify([process.moduleLoadList, Object.keys(require.cache)])));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    t.equal(r.status, 1, r.stderr);
    t.match(r.stderr, /is not a directory/);
    const [builtins, files] = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[][];
    t.ok(builtins!.includes('NativeModule tls'), 'the boot modules were loaded');
    for (const name of ['assert', 'fs/promises'])
      t.notOk(builtins!.includes(`NativeModule ${name}`), `node:${name} is not loaded`);
    // The config was validated (the stateDir error comes after), by the bundle's own copy.
    t.same(
      files!.filter((f) => f.endsWith('.generated.js') || f.includes(join('node_modules', 'ajv'))),
      [],
      'the generated validators and their Ajv helper come from the bundle, not from files',
    );
  },
);

t.test('the bundle is ASCII only, and escaping keeps what the code means', async (t) => {
  t.ok(isAscii(readFileSync(BUNDLE)), 'read without UTF-8 decoding');
  const code = "/* a → b */ ['é→', /ü+/.test('üü'), 'ß'.length]";
  const escaped = asciiOnly(code);
  t.ok(isAscii(Buffer.from(escaped)));
  t.same(eval(escaped), eval(code), 'strings, regular expressions and comments alike');
});

t.test('the stand-ins the bundle uses for pino’s dependencies', async (t) => {
  const shims = join(__dirname, '../../scripts/build/shims');
  const assert = require(join(shims, 'assert.js')) as (v: unknown, m?: string) => void;
  t.doesNotThrow(() => assert(1, 'fine'));
  t.throws(() => assert(0, 'sonic.fd must be a number'), {
    message: 'sonic.fd must be a number',
    code: 'ERR_ASSERTION',
  });
  const ThreadStream = require(join(shims, 'thread-stream.js')) as new () => unknown;
  t.throws(() => new ThreadStream(), /pino transports are not available/);
});

t.test('no bundle file: nothing to load', async (t) => {
  t.equal(loadBundle(join(tmpdir(), 'no-such-dir', BUNDLE_FILE)), undefined);
});
