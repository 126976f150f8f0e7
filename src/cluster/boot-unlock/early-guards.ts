// TryLimit guards armed before the store opened (early-unlock.ts): a drive that refused its
// key then must not be offered it again in this boot, by this process once the store opens
// or by a restart that comes before it does. Each is written here the moment the drive
// refuses (atomically, synced, 0600), the file read by every early unlock, and its guards
// moved into the store by BootUnlockService once it is open; the file goes once they are
// all there. A guard found here twice (a crash between the store's commit and the file's
// removal) is recorded twice, to the same effect.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file';
import type { TryGuard } from './try-guard';

export const EARLY_GUARDS_FILE = 'unlock-guards.json';

export interface EarlyGuard extends TryGuard {
  driveID: number;
}

/** The guards waiting for the store; none when there is no file or it makes no sense. */
export function readEarlyGuards(stateDir: string): EarlyGuard[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(stateDir, EARLY_GUARDS_FILE), 'utf8'));
  } catch {
    return [];
  }
  return Array.isArray(parsed) ? parsed.filter(isEarlyGuard) : [];
}

/** Adds (or replaces) the guard of `guard.driveID`; durable when it returns. */
export function addEarlyGuard(stateDir: string, guard: EarlyGuard): void {
  const guards = readEarlyGuards(stateDir).filter((g) => g.driveID !== guard.driveID);
  guards.push(guard);
  writeFileAtomic(join(stateDir, EARLY_GUARDS_FILE), `${JSON.stringify(guards)}\n`, 0o600);
}

/** Drops `recorded` (now in the store); the file goes when nothing else waits in it. */
export function dropEarlyGuards(stateDir: string, recorded: EarlyGuard[]): void {
  const same = (a: EarlyGuard, b: EarlyGuard) =>
    a.driveID === b.driveID && a.keyID === b.keyID && a.bootID === b.bootID;
  const left = readEarlyGuards(stateDir).filter((g) => !recorded.some((r) => same(g, r)));
  const file = join(stateDir, EARLY_GUARDS_FILE);
  if (left.length) writeFileAtomic(file, `${JSON.stringify(left)}\n`, 0o600);
  else rmSync(file, { force: true });
}

function isEarlyGuard(g: unknown): g is EarlyGuard {
  const o = g as Record<string, unknown>;
  return (
    typeof o === 'object' &&
    o !== null &&
    Number.isInteger(o.driveID) &&
    typeof o.keyID === 'string' &&
    (o.kmipUID === null || typeof o.kmipUID === 'string') &&
    typeof o.keyCheckValue === 'string' &&
    typeof o.bootID === 'string' &&
    typeof o.refusedAt === 'string'
  );
}
