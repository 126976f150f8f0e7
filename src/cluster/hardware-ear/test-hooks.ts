// Test-only crash points (EKMD_TEST_HOOKS="crash:<point>[,crash:<point>…]"): the process
// kills itself with SIGKILL when it reaches a named point, as a power loss or kill -9
// would. Inert unless the variable is set; only tests set it.

const armed = new Set(
  (process.env.EKMD_TEST_HOOKS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('crash:'))
    .map((s) => s.slice('crash:'.length)),
);

export type CrashPoint =
  | 'ear.afterRegister'
  | 'ear.afterRecord'
  | 'ear.afterTakeOwnership'
  | 'ear.afterActivate'
  | 'ear.afterRangeSetup'
  | 'ear.afterEnable'
  | 'ear.afterUnlock'
  | 'ear.afterDisableLocking'
  // Software EAR master key rekey (src/cluster/sear/rekey.ts).
  | 'sear.afterCreate'
  | 'sear.afterNewKey'
  | 'sear.afterCommit'
  | 'sear.afterDestroyOld';

export function crashPoint(point: CrashPoint): void {
  if (armed.has(point)) process.kill(process.pid, 'SIGKILL');
}
