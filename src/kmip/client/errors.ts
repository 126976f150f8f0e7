// One error type for everything the KMIP client can fail at, saying where (endpoint)
// and at which stage, so callers can tell a dead server from a refused request.

/**
 * dns: name resolution; connect: TCP; tls: handshake or server verification;
 * auth: the server refused our client certificate (TLS alert or KMIP Authentication
 * Not Successful); response: no valid answer (timeout, closed, garbled, version);
 * kmip: the server answered with a failed result; config: bad client settings.
 */
export type KmipStage = 'config' | 'dns' | 'connect' | 'tls' | 'auth' | 'response' | 'kmip';

export interface KmipErrorDetails {
  endpoint?: string;
  /** KMIP Result Reason (kmip/auth stages). */
  resultReason?: number;
  resultStatus?: number;
  /** Underlying system or OpenSSL code, e.g. ECONNREFUSED. */
  code?: string;
  timedOut?: boolean;
  /** Every endpoint tried, in order, when failover gave up. */
  attempts?: KmipError[];
}

export class KmipError extends Error {
  override name = 'KmipError';
  readonly stage: KmipStage;
  readonly endpoint: string | undefined;
  readonly resultReason: number | undefined;
  readonly resultStatus: number | undefined;
  readonly code: string | undefined;
  readonly timedOut: boolean;
  readonly attempts: KmipError[];

  constructor(stage: KmipStage, message: string, details: KmipErrorDetails = {}) {
    super(details.endpoint ? `${details.endpoint}: ${stage}: ${message}` : `${stage}: ${message}`);
    this.stage = stage;
    this.endpoint = details.endpoint;
    this.resultReason = details.resultReason;
    this.resultStatus = details.resultStatus;
    this.code = details.code;
    this.timedOut = details.timedOut ?? false;
    this.attempts = details.attempts ?? [];
  }

  /** Did the endpoint fail (worth trying another), rather than answer? */
  get isEndpointFailure(): boolean {
    return this.stage !== 'kmip' && this.stage !== 'config';
  }
}

/** TLS alerts with which a server rejects the client certificate. */
const CLIENT_CERT_ALERTS =
  /ALERT_(BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|ACCESS_DENIED)/;

/** Map a socket or TLS error to a stage: a refused client certificate is `auth`. */
export function stageOfTlsError(err: NodeJS.ErrnoException, fallback: KmipStage): KmipStage {
  const code = err.code ?? '';
  if (CLIENT_CERT_ALERTS.test(code)) return 'auth';
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'tls';
  return fallback;
}
