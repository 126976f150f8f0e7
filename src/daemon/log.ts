// ekmd's logger: pino JSON lines on stdout, one child per component. Every field name
// that could carry a secret is redacted at any depth up to four, so a careless
// `log.info({ drive })` cannot leak an AK or PIN.
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config';

/** Field names whose values are secrets wherever they appear in a log object. */
export const SECRET_FIELDS = [
  'pin',
  'pins',
  'oldPin',
  'newPin',
  'password',
  'newPassword',
  'passwd',
  'passphrase',
  'key',
  'keys',
  'ak',
  'aks',
  'mk',
  'dek',
  'deks',
  'secret',
  'secrets',
  'privateKey',
  'private_key',
  'privateKeyPem',
  'material',
  'keyMaterial',
  'keyValue',
  'sealKey',
  'plaintext',
  'token',
  'credentials',
  'authorization',
  'Authorization',
  'cookie',
] as const;

const REDACT_DEPTH = 4;
export const REDACTED = '[redacted]';

/** pino redaction paths: each secret field at the top level and under 1..3 wildcards. */
export function redactPaths(): string[] {
  const paths: string[] = [];
  for (let depth = 0; depth < REDACT_DEPTH; depth++) {
    const prefix = '*.'.repeat(depth);
    for (const field of SECRET_FIELDS) paths.push(prefix + field);
  }
  return paths;
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    name: 'ekmd',
    level,
    redact: { paths: redactPaths(), censor: REDACTED },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A component's logger: every line it writes carries `component`. */
export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
