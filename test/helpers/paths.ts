// Tests run compiled from dist/test/…; these paths point at the source tree instead.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRoot(start: string): string {
  let dir = start;
  while (
    !existsSync(join(dir, 'package.json')) ||
    existsSync(join(dir, 'tsconfig.json')) === false
  ) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

/** The repository root (holds package.json). */
export const repoRoot = findRoot(__dirname);
/** Compiled bins. */
export const bin = {
  ekmd: join(repoRoot, 'dist/src/daemon/main.js'),
  ekmctl: join(repoRoot, 'dist/src/cli/main.js'),
  ekmdSim: join(repoRoot, 'dist/src/sim/main.js'),
};
/** ../shared beside the checkout: reference data (KMIP test cases, captured messages). */
export const sharedDir = join(repoRoot, '..', 'shared');
