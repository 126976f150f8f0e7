// Which API calls the dispatcher writes to the audit log: every call that can change
// state (anything but Get*, List* and Test*), so methods added later are audited without
// a list to keep up, plus GetClientCertificateSignRequest, which creates a CSR.
const READS = /^(Get|List|Test)/;
const AUDITED_READS = new Set(['GetClientCertificateSignRequest']);

export function isAuditedMethod(name: string): boolean {
  return !READS.test(name) || AUDITED_READS.has(name);
}
