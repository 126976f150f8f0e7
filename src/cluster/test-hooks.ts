// Test-only hooks (EKMD_TEST_HOOKS="crash:<point>,…,boot-id:<id>"). Crash points: the
// process kills itself with SIGKILL when it reaches a named point, as a power loss or
// kill -9 would. boot-id: stands in for the kernel's boot_id, so a test can show a "new
// boot" without rebooting. Inert unless the variable is set; only tests set it.

const hooks = (process.env.EKMD_TEST_HOOKS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

const armed = new Set(
  hooks.filter((s) => s.startsWith('crash:')).map((s) => s.slice('crash:'.length)),
);

/** The boot id a test set with "boot-id:<id>", or undefined (the kernel's is used). */
export function bootIDOverride(): string | undefined {
  const hook = hooks.find((s) => s.startsWith('boot-id:'));
  return hook === undefined ? undefined : hook.slice('boot-id:'.length);
}

export type CrashPoint =
  | 'ear.afterRegister'
  | 'ear.afterRecord'
  | 'ear.afterTakeOwnership'
  // A rekey from an owner key (hardware-ear/drive-locking.ts): SID's PIN is the AK, not
  // yet recorded; Admin1's is still the owner key.
  | 'ear.afterSidRekey'
  | 'ear.afterActivate'
  | 'ear.afterRangeSetup'
  | 'ear.afterEnable'
  | 'ear.afterUnlock'
  | 'ear.afterDisableLocking'
  // SecureEraseDrives (eraseDrive in hardware-ear/secure-erase.ts): journaled, reverted,
  // recorded erased.
  | 'erase.afterJournal'
  | 'erase.afterRevert'
  | 'erase.afterRecord'
  // Software EAR master key rekey (src/cluster/sear/rekey.ts).
  | 'sear.afterCreate'
  | 'sear.afterNewKey'
  | 'sear.afterCommit'
  | 'sear.afterDestroyOld'
  // A node's own DEKs re-wrapped, its marker not yet recorded (sear/node-rewrap.ts).
  | 'sear.afterNodeRewrap'
  // The early unlock before the store (boot-unlock/early-unlock.ts): its keys in hand, and
  // a refusal written to the early guards' file.
  | 'early.beforeAttempts'
  | 'early.afterGuard';

export function crashPoint(point: CrashPoint): void {
  if (armed.has(point)) process.kill(process.pid, 'SIGKILL');
}
