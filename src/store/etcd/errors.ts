// etcd's failures as the store's errors. Each names where the store is (endpoints and
// prefix) and what was being done (store keys may appear; values never do), and says
// whether a write can have happened: etcd applies a transaction whole or not at all, so
// the only doubt is whether it was applied, never whether half of it was.
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCFailedPreconditionError,
  GRPCInvalidArgumentError,
  GRPCOutOfRangeError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
} from 'etcd3';
import { StoreAccessError, StoreError, StoreUnavailableError } from '../errors';

/** Failures after which the request certainly did not reach an etcd member's raft log. */
const NOT_SENT = [
  /No connection established/i,
  /ECONNREFUSED|connect E[A-Z]+/,
  /etcdserver: no leader/,
  /etcdserver: not capable/,
  /Name resolution failed|getaddrinfo/i,
];

/** etcd answered, before proposing anything, that it cannot serve now: quorum lost. */
const NO_QUORUM = /etcdserver: (no leader|not capable|too many requests)/;

export function certainlyNotSent(err: unknown): boolean {
  const message = (err as Error)?.message ?? '';
  return err instanceof GRPCUnavailableError && NOT_SENT.some((re) => re.test(message));
}

/** Prefer an error etcd itself answered (it says more) over a connection failure. */
export function moreTelling(a: unknown, b: unknown): unknown {
  const answered = (e: unknown) => /etcdserver:/.test((e as Error)?.message ?? '');
  return answered(b) && !answered(a) ? b : a;
}

export interface ErrorContext {
  /** "etcd at https://10.0.0.1:2379, https://10.0.0.2:2379 (prefix /ekmd/c1/)" */
  where: string;
  /** "put of store key \"x\"" */
  what: string;
  write: boolean;
  timeoutMs: number;
}

export function toStoreError(err: unknown, ctx: ErrorContext): Error {
  if (err instanceof StoreError) return err;
  const reason = grpcReason(err);
  const head = `${ctx.where}: ${ctx.what}`;
  if (err instanceof ClientClosedError) return new StoreError(`${head}: the store is closed`);
  if (
    err instanceof EtcdPermissionDeniedError ||
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof GRPCUnauthenticatedError
  ) {
    return new StoreAccessError(`${head}: refused by etcd (${reason}); nothing written`);
  }
  if (err instanceof EtcdLeaseInvalidError || /requested lease not found/.test(reason)) {
    return new StoreError(`${head}: the lease has ended (expired or revoked); nothing written`);
  }
  if (NO_QUORUM.test(reason)) {
    return new StoreUnavailableError(
      `${head}: etcd cannot commit now (${reason}: quorum lost or electing a leader); ` +
        'nothing written',
    );
  }
  // Ours, or etcd's own (the deadline travels with the call; etcd may notice it first).
  const late = /request timed out|context deadline exceeded|context canceled/.test(reason);
  if (err instanceof GRPCDeadlineExceededError || late) {
    return new StoreUnavailableError(
      `${head}: etcd did not answer within ${ctx.timeoutMs} ms: unreachable, or its quorum lost (${reason})` +
        (ctx.write ? '; the write may or may not have been applied, whole' : ''),
      ctx.write,
    );
  }
  if (err instanceof GRPCUnavailableError) {
    const sent = !certainlyNotSent(err);
    return new StoreUnavailableError(
      `${head}: etcd unreachable (${reason})` +
        (ctx.write
          ? sent
            ? '; the write may or may not have been applied, whole'
            : '; nothing written'
          : ''),
      ctx.write && sent,
    );
  }
  const refused =
    err instanceof GRPCInvalidArgumentError ||
    err instanceof GRPCFailedPreconditionError ||
    err instanceof GRPCOutOfRangeError;
  const outcome = !ctx.write ? '' : refused ? '; nothing written' : '; outcome unknown';
  return new StoreError(
    `${head}: ${refused ? 'refused by ' : 'failed in '}etcd (${reason})${outcome}`,
  );
}

/** The gRPC message without its numeric prefix, on one line. */
function grpcReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message
    .replace(/^\d+ [A-Z_]+: /, '')
    .replace(/\s*Resolution note:.*$/s, '') // gRPC's name-resolution aside
    .replace(/\s+/g, ' ')
    .trim();
}
