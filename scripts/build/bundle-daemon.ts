// Build step after tsc: the daemon (dist/src/daemon/ekmd.js and every ekmd module it can
// reach, pino with it) becomes one file beside it, and a V8 code cache of that file is
// written with the boot's modules compiled in it. main.js runs the bundle when present.
// Module resolution and compiling were a third of a boot's time.
// Left outside the bundle: native packages (they must be), and those loaded only later
// (node-forge, Ajv, prom-client, etcd3) — in the file they would still cost parsing at every
// start.
//   node dist/scripts/build/bundle-daemon.js
import { build, type Plugin } from 'esbuild';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  asciiOnly,
  loadBundle,
  wrapAsModule,
  writeCodeCache,
} from '../../src/daemon/bundle-loader';
import { BUNDLE_FILE } from '../../src/daemon/main';
import { GENERATED_SCHEMAS } from '../../src/daemon/generated-validators';

const daemonDir = join(__dirname, '../../src/daemon');
const BUNDLED_VALIDATORS = 'const BUNDLED_VALIDATORS = {};';
const bundle = join(daemonDir, BUNDLE_FILE);

/**
 * Node modules that pino's dependencies load at start but ekmd never needs, replaced by
 * small stand-ins (scripts/build/shims): each would add milliseconds to every boot.
 */
const shims: Plugin = {
  name: 'ekmd-shims',
  setup(b) {
    const shim = (name: string) => ({ path: join(__dirname, 'shims', `${name}.js`) });
    b.onResolve({ filter: /^assert$/ }, (args) =>
      /node_modules\/(sonic-boom|thread-stream)\//.test(args.importer) ? shim('assert') : undefined,
    );
    b.onResolve({ filter: /^thread-stream$/ }, (args) =>
      /node_modules\/pino\//.test(args.importer) ? shim('thread-stream') : undefined,
    );
  },
};

/**
 * The generated validators (config, key plan) compiled into the bundle: a start then takes
 * them from the code cache instead of compiling them and resolving Ajv's runtime helper
 * from node_modules (~6 ms). The generated modules must exist: the build writes them first.
 */
const validators: Plugin = {
  name: 'ekmd-validators',
  setup(b) {
    b.onLoad({ filter: /[\\/]daemon[\\/]generated-validators\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes(BUNDLED_VALIDATORS)) {
        throw new Error(`${args.path}: no "${BUNDLED_VALIDATORS}" to fill in`);
      }
      const table = GENERATED_SCHEMAS.map(
        (s) => `${JSON.stringify(s.file)}: require(${JSON.stringify(`./${s.file}`)})`,
      ).join(', ');
      return {
        contents: source.replace(BUNDLED_VALIDATORS, `const BUNDLED_VALIDATORS = { ${table} };`),
        loader: 'js',
      };
    });
    // Ajv's runtime helper the generated code requires: small, and bundled rather than
    // resolved at every start (Ajv itself stays outside).
    b.onResolve({ filter: /^ajv\/dist\/runtime\// }, (args) =>
      /\.generated\.js$/.test(args.importer) ? { path: require.resolve(args.path) } : undefined,
    );
  },
};

async function main(): Promise<void> {
  const result = await build({
    entryPoints: [join(daemonDir, 'ekmd.js')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['better-sqlite3', 'koffi', 'node-forge', 'ajv', 'ajv/*', 'prom-client', 'etcd3'],
    // Whitespace and comments out, identifiers kept (stack traces still name functions):
    // 1.3 MB → 0.85 MB, each byte of which a boot reads, hashes and copies into a string.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    // The generated config validator is required by path, when present (config.ts).
    logOverride: { 'unsupported-require-call': 'silent' },
    plugins: [shims, validators],
  });
  if (result.errors.length) process.exit(1);
  // ASCII only: a start then reads it without decoding UTF-8; and wrapped as a module, so
  // it is compiled as read, not copied into a wrapped string first (bundle-loader.ts).
  writeFileSync(bundle, wrapAsModule(asciiOnly(readFileSync(bundle, 'utf8'))));

  // Run the bundle's modules (nothing starts: warm() only loads them), then keep what V8
  // compiled. The cache is valid for this node binary; another one rejects it and compiles.
  const loaded = loadBundle(bundle);
  if (!loaded) throw new Error(`${bundle} was not written`);
  (loaded.exports.warm as () => void)();
  writeCodeCache(bundle, loaded.codeCache());
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
