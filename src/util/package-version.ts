// ekmd's version, from its package.json: two levels above dist/src/<dir> and src/<dir> alike
// (the daemon's bundle sits in dist/src/daemon).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let cached: string | undefined;

/** The version in ekmd's package.json; undefined when it cannot be found. */
export function packageVersion(): string | undefined {
  if (cached) return cached;
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, rel), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'ekmd' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // try the next location
    }
  }
  return undefined;
}
