import { packageVersion } from '../util/package-version';

export async function run(): Promise<number> {
  const version = packageVersion();
  process.stdout.write(version ? `ekmd ${version}\n` : 'ekmd (version unknown)\n');
  return 0;
}
