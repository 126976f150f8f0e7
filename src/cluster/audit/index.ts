// The audit log of security operations: recorded by the API dispatcher (every call that
// changes state), by Basic auth (failed logins), and by services for their own events.
export {
  AUDIT_PREFIX,
  AUDIT_RETENTION,
  LOGIN_AUDIT_RETENTION,
  readAudit,
  recordAudit,
  recordAuditIn,
  withoutAudit,
  type AuditEvent,
  type AuditFilter,
  type AuditRecord,
  type AuditSource,
} from './audit-log';
export { AuditBatcher } from './audit-batch';
export {
  LoginAudit,
  LOGIN_AUDIT_LIMITS,
  type FailedLoginReport,
  type LoginAuditLimits,
} from './login-audit';
export { auditParams, isSecretName, REDACTED } from './audit-params';
export { isAuditedMethod } from './audited-methods';
