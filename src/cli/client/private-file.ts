// Files holding credentials are read only when private to their owner: mode 0600 (no
// group or other bits) and owned by the user running ekmctl.
import { readFileSync, statSync } from 'node:fs';
import { parseJsonObject } from '../../util/json-error';

/**
 * The JSON object in `path`, undefined when there is no such file; refuses a file others
 * could read or another user owns.
 */
export function readPrivateJson(path: string): { [k: string]: unknown } | undefined {
  let mode: number;
  let uid: number;
  try {
    ({ mode, uid } = statSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `refusing ${path}: it is readable by group or others (mode ${(mode & 0o777).toString(8)}); ` +
        `run: chmod 600 ${path}`,
    );
  }
  if (process.getuid && uid !== process.getuid()) {
    throw new Error(`refusing ${path}: it belongs to another user (uid ${uid})`);
  }
  return parseJsonObject(readFileSync(path, 'utf8'), path);
}
