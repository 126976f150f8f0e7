export {
  BootUnlockService,
  progressLine,
  type BootUnlockDeps,
  type RoundResult,
  type UnlockProgress,
} from './boot-unlock';
export { readBootID } from './try-guard';
export { watchKeyServerCertificates } from './certificate-check';
