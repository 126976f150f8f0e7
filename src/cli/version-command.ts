import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export async function run(): Promise<number> {
  // package.json sits two levels above dist/src/cli and src/cli alike.
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, rel), 'utf8')) as {
        name?: string;
        version: string;
      };
      if (pkg.name === 'ekmd') {
        process.stdout.write(`ekmd ${pkg.version}\n`);
        return 0;
      }
    } catch {
      // try the next location
    }
  }
  process.stdout.write('ekmd (version unknown)\n');
  return 0;
}
