// `npm run reset`: wipes the embedded default's state directory (.state/ at the repository
// root, or --state DIR). Refuses while a dev start holds the directory, and deletes only a
// directory a dev start made (it holds the marker file).
//
//   node dist/scripts/dev/reset.js [--state DIR]
import { existsSync, rmSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isEmptyDir, layout, lockState, MARKER, repoRoot, stateDirFrom } from './common';

function main(): number {
  let values: { state?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { state: { type: 'string' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    process.stderr.write(`reset: ${(err as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(
      'Usage: node dist/scripts/dev/reset.js [--state DIR]\n\n' +
        'Deletes the development state directory (default .state/ at the repository root).\n',
    );
    return 0;
  }
  const L = layout(stateDirFrom(values.state));
  if (!existsSync(L.state)) {
    process.stdout.write(`nothing to reset: ${L.state} does not exist\n`);
    return 0;
  }
  if (!statSync(L.state).isDirectory()) {
    process.stderr.write(`reset: ${L.state} is not a directory; not touching it\n`);
    return 1;
  }
  if (L.state === repoRoot || !(existsSync(L.marker) || isEmptyDir(L.state))) {
    process.stderr.write(
      `reset: ${L.state} was not made by a dev start (no ${MARKER} file); not touching it\n`,
    );
    return 1;
  }
  let lock;
  try {
    lock = lockState(L.state);
  } catch (err) {
    process.stderr.write(`reset: ${(err as Error).message}; stop it first (Ctrl-C)\n`);
    return 1;
  }
  try {
    rmSync(L.state, { recursive: true, force: true });
  } finally {
    lock.release();
  }
  process.stdout.write(`removed ${L.state}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main();
