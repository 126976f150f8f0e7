// The audit log of security operations, kept in the store so that it is backed up with
// the state it describes and readable offline (`ekmctl audit` on a read-only store):
//   audit/records/<slot>  one event; slot = seq modulo AUDIT_RETENTION, so the log keeps the
//                         last AUDIT_RETENTION events in a fixed number of rows (deleting
//                         old events instead would leave a tombstone row behind each)
//   audit/logins/<slot>   a refused login (source 'auth'), in a ring of its own with the
//                         same scheme, so a flood of them never evicts an operation
//   audit/nextSeq         the last sequence number handed out, shared by both rings
// Events carry names and non-secret values only: auditParams redacts anything that
// could be a password, a key or a private key before it is written.
import type { Json, Store, StoreTx } from '../../store/store';
import { auditParams, cleanText } from './audit-params';

export const AUDIT_PREFIX = 'audit/';
export const AUDIT_RECORD_PREFIX = 'audit/records/';
export const AUDIT_LOGIN_PREFIX = 'audit/logins/';
export const AUDIT_SEQ_KEY = 'audit/nextSeq';
export const AUDIT_RETENTION = 10_000;
export const LOGIN_AUDIT_RETENTION = 2_000;

/** Who recorded an event: the API dispatcher, HTTP Basic auth, or a service itself. */
export type AuditSource = 'api' | 'auth' | 'service';

export interface AuditEvent {
  source: AuditSource;
  /** An API method name, 'Login', or a service's event such as 'DestroyAuthenticationKey'. */
  action: string;
  user?: string;
  remoteAddress?: string;
  /** Names and values; secrets are redacted on the way in (auditParams). */
  params?: Record<string, unknown>;
  /** 'ok', or the Element error name the operation ended with. */
  outcome: string;
  details?: string;
}

/** One stored event: every member always present, so offline readers need no defaults. */
export interface AuditRecord {
  seq: number;
  /** ISO 8601 UTC. */
  date: string;
  source: AuditSource;
  action: string;
  user: string;
  remoteAddress: string;
  params: { [k: string]: Json };
  outcome: string;
  details: string;
}

const ACTION = /^[A-Za-z][A-Za-z0-9.]{0,63}$/;
const OUTCOME = /^(ok|x[A-Za-z0-9]{1,63})$/;

/** Appends `event` in its own transaction. */
export function recordAudit(
  store: Store,
  event: AuditEvent,
  retention = AUDIT_RETENTION,
  loginRetention = LOGIN_AUDIT_RETENTION,
) {
  return store.transaction((tx) => recordAuditIn(tx, event, retention, loginRetention));
}

/**
 * Appends `event` as a step of the caller's transaction: it commits with the change.
 * Refused logins (source 'auth') go to their own ring of `loginRetention` slots.
 */
export function recordAuditIn(
  tx: StoreTx,
  event: AuditEvent,
  retention = AUDIT_RETENTION,
  loginRetention = LOGIN_AUDIT_RETENTION,
): AuditRecord {
  // Bad names are the caller's bug, not an operator's input.
  if (!ACTION.test(event.action)) throw new Error(`bad audit action ${event.action}`);
  if (!OUTCOME.test(event.outcome)) throw new Error(`bad audit outcome ${event.outcome}`);
  for (const n of [retention, loginRetention]) {
    if (!Number.isSafeInteger(n) || n < 1) throw new Error('bad audit retention');
  }
  const seq = (tx.get<number>(AUDIT_SEQ_KEY)?.value ?? 0) + 1;
  const record: AuditRecord = {
    seq,
    date: new Date().toISOString(),
    source: event.source,
    action: event.action,
    user: cleanText(event.user ?? '', 128),
    remoteAddress: cleanText(event.remoteAddress ?? '', 64),
    params: auditParams(event.params ?? {}),
    outcome: event.outcome,
    details: cleanText(event.details ?? '', 1000),
  };
  tx.put(AUDIT_SEQ_KEY, seq);
  const slot =
    event.source === 'auth'
      ? slotKey(AUDIT_LOGIN_PREFIX, seq, loginRetention)
      : slotKey(AUDIT_RECORD_PREFIX, seq, retention);
  tx.put(slot, record as unknown as Json);
  return record;
}

const slotKey = (prefix: string, seq: number, retention: number) =>
  `${prefix}${String(seq % retention).padStart(String(retention).length, '0')}`;

export interface AuditFilter {
  /** Events at or after this time. */
  since?: Date;
}

/** The kept events of both rings, oldest first; works on a read-only store. */
export function readAudit(reader: Pick<StoreTx, 'list'>, filter: AuditFilter = {}): AuditRecord[] {
  const since = filter.since?.getTime();
  return [AUDIT_RECORD_PREFIX, AUDIT_LOGIN_PREFIX]
    .flatMap((prefix) => reader.list<AuditRecord>(prefix))
    .map((e) => e.value)
    .filter((r) => since === undefined || Date.parse(r.date) >= since)
    .sort((a, b) => a.seq - b.seq);
}

/** Store entries minus the audit log: for comparing state before and after a refused call. */
export function withoutAudit<T extends { key: string }>(entries: T[]): T[] {
  return entries.filter((e) => !e.key.startsWith(AUDIT_PREFIX));
}
