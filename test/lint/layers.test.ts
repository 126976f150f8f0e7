// The layer rules (.dependency-cruiser.cjs) fail the lint on an upward import: imports are
// planted in a copy of src/ and dependency-cruiser, run as `npm run lint` runs it, must
// name the broken rule for each, while the unplanted modules pass.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { repoRoot } from '../helpers/paths';

const depcruise = join(repoRoot, 'node_modules/.bin/depcruise');

function copyOfTheTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-layers-'));
  for (const f of ['src', 'tsconfig.json', '.dependency-cruiser.cjs', 'package.json'])
    cpSync(join(repoRoot, f), join(dir, f), { recursive: true });
  cpSync(join(repoRoot, 'test/helpers'), join(dir, 'test/helpers'), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function cruise(dir: string, files: string[]): { status: number | null; out: string } {
  const r = spawnSync(depcruise, ['--config', '.dependency-cruiser.cjs', ...files], {
    cwd: dir,
    encoding: 'utf8',
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

t.test('a planted upward import fails the lint, naming its rule', (t) => {
  const dir = copyOfTheTree();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // [code, the rule it breaks]; a cycle is reported once, from its first module.
  const plants: Record<string, [code: string, rule?: string]> = {
    'src/cluster/planted-up.ts': [
      "import { commands } from '../cli/main';\nexport const planted = commands;\n",
      'cluster-stays-below-api',
    ],
    'src/store/planted-sideways.ts': [
      "import { KmipClient } from '../kmip/client';\nexport const planted = KmipClient;\n",
      'foundations-import-only-util',
    ],
    'src/api/planted-driver.ts': [
      "import { OpalDrive } from '../opal/drive';\nexport const planted = OpalDrive;\n",
      'api-calls-cluster',
    ],
    'src/sim/planted-cluster.ts': [
      "import { groupBy } from '../util/group-by';\nimport { NO_METRICS } from '../cluster/metrics-sink';\nexport const planted = [groupBy, NO_METRICS];\n",
      'sim-imports-opal-ports-only',
    ],
    'src/daemon/planted-tests.ts': [
      "import { repoRoot } from '../../test/helpers/paths';\nexport const planted = repoRoot;\n",
      'src-not-scripts-or-test',
    ],
    'src/util/planted-cycle-a.ts': [
      "import { b } from './planted-cycle-b';\nexport const a = (): number => b() + 1;\n",
      'no-cycles',
    ],
    'src/util/planted-cycle-b.ts': [
      "import { a } from './planted-cycle-a';\nexport const b = (): number => a() - 1;\n",
    ],
  };
  for (const [file, [code]] of Object.entries(plants)) writeFileSync(join(dir, file), code);

  const planted = cruise(dir, Object.keys(plants));
  t.not(planted.status, 0, 'the lint fails');
  for (const [file, [, rule]] of Object.entries(plants)) {
    if (rule) t.match(planted.out, new RegExp(`${rule}: ${file.replace(/\./g, '\\.')}`), rule);
  }
  t.match(planted.out, /planted-cycle-a\.ts →\s+src\/util\/planted-cycle-b\.ts/, 'the cycle named');

  const clean = cruise(dir, ['src/cluster/recovery.ts', 'src/sim/main.ts', 'src/cli/main.ts']);
  t.equal(clean.status, 0, `unplanted modules pass:\n${clean.out}`);
  t.end();
});
