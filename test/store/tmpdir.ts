// A private temporary directory per test, removed when the test ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
