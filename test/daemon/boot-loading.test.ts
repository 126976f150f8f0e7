// What loading the boot sequence loads: only what boot unlock needs comes first. The API
// server, node-forge (CSRs, the self-signed certificate) and prom-client (metrics) are
// loaded later, when they are used; the early unlock needs none of the store, the
// lock or the logger. Checked in a fresh process.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BOOT = join(__dirname, '../../src/daemon/boot.js');

/** The module files a fresh node process has loaded after requiring `file`. */
function loadedBy(file: string): string[] {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(file)}); console.log(JSON.stringify(Object.keys(require.cache)))`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`node exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

t.test(
  'requiring the boot sequence leaves the API, node-forge and prom-client unloaded',
  async (t) => {
    const loaded = loadedBy(BOOT);
    t.ok(
      loaded.some((f) => f.endsWith(join('src', 'cluster', 'boot-unlock', 'boot-unlock.js'))),
      'boot unlock is loaded',
    );
    for (const [what, part] of [
      ['the API server', join('src', 'api', 'index.js')],
      ['node-forge', join('node_modules', 'node-forge')],
      ['prom-client', join('node_modules', 'prom-client')],
    ] as const) {
      t.notOk(
        loaded.some((f) => f.includes(part)),
        `${what} is not loaded`,
      );
    }
  },
);

t.test('the early unlock (early-unlock) loads neither SQLite, koffi nor pino', async (t) => {
  const loaded = loadedBy(join(__dirname, '../../src/daemon/early-unlock.js'));
  t.ok(
    loaded.some((f) => f.endsWith(join('src', 'kmip', 'client', 'index.js'))),
    'the KMIP client is loaded',
  );
  for (const name of ['better-sqlite3', 'koffi', 'pino']) {
    t.notOk(
      loaded.some((f) => f.includes(join('node_modules', name))),
      `${name} is not loaded`,
    );
  }
});
