export { BootUnlockService, type BootUnlockDeps } from './boot-unlock';
export { progressLine, type RoundResult, type UnlockProgress } from './round-result';
export { readBootID } from './try-guard';
export { watchKeyServerCertificates } from './certificate-check';
