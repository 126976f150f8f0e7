export { BootUnlockService, type BootUnlockDeps, type RoundResult } from './boot-unlock';
export { readBootID } from './try-guard';
