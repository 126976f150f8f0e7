// What of a call's parameters goes into the audit log: every name, and the values that
// cannot carry a secret. Anything whose name suggests a password, key, PIN or token is
// "[redacted]"; a certificate is recorded as its SHA-256 (public, but long); a string
// holding a PEM private key is redacted whatever its name; long text is cut.
import { createHash } from 'node:crypto';
import type { Json } from '../../store/store';

export const REDACTED = '[redacted]';
const MAX_STRING = 256;
const MAX_ITEMS = 64;
const MAX_DEPTH = 4;
/** Names of identifiers that merely mention keys: keyServerID, keyProviderName, keyID, … */
const KEY_IDENTIFIER = /key(server|provider|management)|keyids?(?![a-z])|keycheck/gi;
const SECRET_NAME = /pass|secret|private|pin|token|credential|key|seed|psk|auth/i;
const CERTIFICATE_NAME = /certificate/i;
const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name.replace(KEY_IDENTIFIER, ''));
}

export function auditParams(params: Record<string, unknown>): { [k: string]: Json } {
  return auditObject(params, 0);
}

function auditObject(obj: Record<string, unknown>, depth: number): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const [name, value] of Object.entries(obj).slice(0, MAX_ITEMS)) {
    out[cleanText(name, 64)] = auditValue(name, value, depth);
  }
  return out;
}

function auditValue(name: string, value: unknown, depth: number): Json {
  if (value === null || value === undefined) return null;
  if (isSecretName(name)) return REDACTED;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return auditString(name, value);
  if (depth >= MAX_DEPTH) return '[nested]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => auditValue(name, v, depth + 1));
    if (value.length > MAX_ITEMS) items.push(`… ${value.length - MAX_ITEMS} more`);
    return items;
  }
  if (typeof value === 'object') return auditObject(value as Record<string, unknown>, depth + 1);
  return `[${typeof value}]`;
}

function auditString(name: string, value: string): string {
  if (/PRIVATE KEY/.test(value)) return REDACTED;
  if (CERTIFICATE_NAME.test(name)) {
    if (FINGERPRINT.test(value)) return value;
    return `sha256:${createHash('sha256').update(value).digest('hex')}`;
  }
  return cleanText(value, MAX_STRING);
}

/** One line of printable text, at most `max` characters. */
export function cleanText(text: string, max: number): string {
  const line = text
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/[\uD800-\uDFFF]/g, (c, i: number, s: string) => (wellFormedAt(s, i) ? c : '\ufffd'));
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function wellFormedAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c <= 0xdbff) return (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
  return i > 0 && (s.charCodeAt(i - 1) & 0xfc00) === 0xd800;
}
