export * from './opal-drive';
export * from './status';
export * from './discovery';
export { driveLock } from './drive-lock';
