// The key that wraps what a powered drive holds in volatile memory (unlocked media keys,
// the kernel's saved unlocks, an attached DEK) so that an ekmd-sim restart keeps it.
// Losing this file is a power cycle: the held keys can no longer be opened.
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file';

export const RUNTIME_KEY_FILE = 'runtime.key';

export function loadOrCreateRuntimeKey(stateDir: string): Buffer {
  const path = join(stateDir, RUNTIME_KEY_FILE);
  if (existsSync(path)) {
    const key = readFileSync(path);
    if (key.length !== 32) throw new Error(`${path} is not a 32-byte key`);
    return key;
  }
  const key = randomBytes(32);
  writeFileAtomic(path, key, 0o600);
  return key;
}
