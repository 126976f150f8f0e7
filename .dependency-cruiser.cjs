// The layer rules of src/ (docs/ARCHITECTURE.md explains them). `npm run lint` runs
// dependency-cruiser with this file; a violation fails the lint and so `npm test`.
//
//   util ← store, kmip, opal ← sim ← cluster ← api ← daemon, cli
//
// Lower layers never import higher ones; scripts/ and test/ may import anything in src/.
/** A path pattern for folders under src/. */
const src = (...dirs) => `^src/(${dirs.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'util-imports-nothing',
      comment: 'src/util holds helpers every layer may use: it depends on no other folder of src.',
      severity: 'error',
      from: { path: src('util') },
      to: { path: '^src/', pathNot: src('util') },
    },
    {
      name: 'foundations-import-only-util',
      comment:
        'kmip, opal and store know nothing of Element, faults or each other: they import only util.',
      severity: 'error',
      from: { path: src('kmip', 'opal', 'store') },
      to: { path: '^src/', pathNot: ['^src/util/', '^src/$1/'] },
    },
    {
      name: 'sim-imports-opal-ports-only',
      comment:
        "The simulator decodes the kernel's struct bytes: it may use opal's ABI and ports, the socket's wire format and client (its control command), util, and itself.",
      severity: 'error',
      from: { path: src('sim') },
      to: {
        path: '^src/',
        pathNot: [
          '^src/sim/',
          '^src/util/',
          '^src/opal/abi/',
          '^src/opal/(transport|inventory|datapath)\\.ts$',
          '^src/opal/sim-socket/(frame|connection)\\.ts$',
        ],
      },
    },
    {
      name: 'cluster-stays-below-api',
      comment:
        'cluster holds the Element rules; it is driven by api and wired by daemon, never the reverse. Metrics reach it through a MetricsSink passed in.',
      severity: 'error',
      from: { path: src('cluster') },
      to: { path: src('api', 'cli', 'daemon', 'sim', 'metrics') },
    },
    {
      name: 'api-calls-cluster',
      comment:
        'api validates, maps names and calls cluster: it never imports cli, daemon or sim, and reaches key servers and drives only through cluster.',
      severity: 'error',
      from: { path: src('api') },
      to: { path: src('cli', 'daemon', 'sim', 'kmip', 'opal') },
    },
    {
      name: 'metrics-below-daemon',
      comment: 'metrics observe kmip and are wired by the daemon; they import no Element layer.',
      severity: 'error',
      from: { path: src('metrics') },
      to: { path: src('cluster', 'api', 'cli', 'daemon', 'sim') },
    },
    {
      name: 'daemon-not-cli',
      comment: 'ekmd and ekmctl share code through the layers below, never through each other.',
      severity: 'error',
      from: { path: src('daemon') },
      to: { path: src('cli') },
    },
    {
      name: 'cli-over-the-api',
      comment:
        "ekmctl speaks to ekmd's API over HTTPS and reaches simulated drives through opal/sim-socket: it never imports api, daemon or sim.",
      severity: 'error',
      from: { path: src('cli') },
      to: { path: src('api', 'daemon', 'sim') },
    },
    {
      name: 'src-not-scripts-or-test',
      comment: 'What ships (src/) never depends on dev tools or tests.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(scripts|test)/' },
    },
    {
      name: 'no-cycles',
      comment: 'Modules import each other in one direction only.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that resolves to nothing is a typo or a missing dependency.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
