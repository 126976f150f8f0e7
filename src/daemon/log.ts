// ekmd's logger: pino JSON lines on stdout, one child per component. Every object logged
// (and every child's bindings) is walked before it is written: a field whose name says it
// holds a secret (a password, PIN, token, private key, PEM, or any "…Key" such as
// clientKey) is redacted at any depth, and so is every Buffer, typed array or PEM private
// key whatever its name, so a careless `log.info({ drive })` cannot leak an AK or PIN.
// Identifiers that merely mention keys (keyID, keyServerID, kmipUID) stay readable.
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

export const REDACTED = '[redacted]';
/** Objects nested deeper than this are written as NESTED: their names are not checked. */
const MAX_DEPTH = 8;
const NESTED = '[nested]';

/** Words that make a field secret wherever they appear in its name. */
const SECRET_WORDS = new Set(
  [
    'pin pins password passwords passwd passphrase pass secret secrets private credential',
    'credentials token tokens pem cookie cookies authorization psk plaintext material seed',
  ]
    .join(' ')
    .split(' '),
);
/** Key words: secret at the end of a name (clientKey), or before data words (keyBytes). */
const KEY_WORDS = new Set(['key', 'keys', 'ak', 'aks', 'mk', 'mks', 'dek', 'deks', 'kek', 'keks']);
const DATA_WORDS = new Set(['bytes', 'data', 'value', 'blob', 'buffer', 'hex', 'base64', 'text']);
const EXACT = new Set<string>(SECRET_FIELDS);
/** Names that end like a key but are not secret. */
const PUBLIC_FIELDS = new Set(['storeKey', 'publicKey', 'publicKeyPem', 'keyID', 'keyIDs']);
const verdicts = new Map<string, boolean>();
const MAX_VERDICTS = 4096;

/** True when a field of this name may hold a secret (cached: names repeat). */
export function isSecretField(name: string): boolean {
  let secret = verdicts.get(name);
  if (secret === undefined) {
    secret = judge(name);
    if (verdicts.size < MAX_VERDICTS) verdicts.set(name, secret);
  }
  return secret;
}

function judge(name: string): boolean {
  if (EXACT.has(name)) return true;
  if (PUBLIC_FIELDS.has(name)) return false;
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.some((w) => SECRET_WORDS.has(w))) return true;
  const at = words.findIndex((w) => KEY_WORDS.has(w));
  return at >= 0 && words.slice(at + 1).every((w) => DATA_WORDS.has(w) || KEY_WORDS.has(w));
}

/**
 * `value` as it may be logged. Objects are copied only where something is redacted, so
 * the common small line costs a walk over its fields and no allocation.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.includes('PRIVATE KEY') ? REDACTED : value;
  if (typeof value !== 'object' || value === null) return value;
  if (ArrayBuffer.isView(value) || isArrayBufferLike(value)) return REDACTED;
  if (depth >= MAX_DEPTH) return NESTED;
  if (value instanceof Error) return redactValue(pino.stdSerializers.err(value), depth);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const out = redactValue(item, depth + 1);
      if (out !== item) (copy ??= value.slice())[i] = out;
    });
    return copy ?? value;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return redactValue(toJSON.call(value), depth);
  const record = value as Record<string, unknown>;
  if (record.type === 'Buffer' && Array.isArray(record.data)) return REDACTED; // a Buffer's JSON
  let copy: Record<string, unknown> | undefined;
  for (const name in record) {
    if (!Object.prototype.hasOwnProperty.call(record, name)) continue;
    const item = record[name];
    const out = item !== undefined && isSecretField(name) ? REDACTED : redactValue(item, depth + 1);
    if (out !== item) (copy ??= { ...record })[name] = out;
  }
  return copy ?? value;
}

function isArrayBufferLike(value: object): boolean {
  return (
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)
  );
}

const redactObject = (obj: Record<string, unknown>) => redactValue(obj) as Record<string, unknown>;

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    name: 'ekmd',
    level,
    formatters: { log: redactObject, bindings: redactObject },
    // Errors are serialized (and walked) by redactValue already.
    serializers: { err: (err: unknown) => err },
  };
  const logger = destination ? pino(options, destination) : pino(options);
  // pino applies formatters.bindings to the root's bindings only: a child's are walked
  // here. Children inherit this child(), so their own children are covered too.
  const child = logger.child as unknown as (this: Logger, ...args: unknown[]) => Logger;
  const redactingChild = function (this: Logger, bindings: Record<string, unknown>, opts: unknown) {
    return child.call(this, redactObject(bindings), opts);
  };
  logger.child = redactingChild as unknown as Logger['child'];
  return logger;
}

/** A component's logger: every line it writes carries `component`. */
export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
