// Typed errors for the sed-opal return convention: rc < 0 is a kernel error (errno),
// rc > 0 a TCG method status from the drive. Messages name the operation and device,
// never key material.
import { constants } from 'node:os';
import { TcgStatus, tcgStatusName } from './abi';
import type { IoctlResult } from './transport';

/** Older kernels return the kernel-internal ENOTSUPP (524) where newer return EOPNOTSUPP. */
export const ENOTSUPP = 524;

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, n]) => [n, name]),
);
// Aliases: name them as the kernel headers and man pages do.
ERRNO_NAMES.set(constants.errno.EOPNOTSUPP, 'EOPNOTSUPP');
ERRNO_NAMES.set(constants.errno.EAGAIN, 'EAGAIN');

export function errnoName(errno: number): string {
  if (errno === ENOTSUPP) return 'ENOTSUPP';
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** Where an error happened: the operation (ioctl or libc call) and the device path. */
export interface OpalErrorContext {
  op: string;
  device?: string;
}

function where(ctx: OpalErrorContext): string {
  return ctx.device ? `${ctx.op} on ${ctx.device}` : ctx.op;
}

export class OpalError extends Error {
  override name = 'OpalError';
  readonly op: string;
  readonly device: string | undefined;
  /** errno name (EACCES …) or TCG status name (NOT_AUTHORIZED …). */
  readonly code: string;
  constructor(ctx: OpalErrorContext, code: string, what: string) {
    super(`${where(ctx)}: ${what} (${code})`);
    this.op = ctx.op;
    this.device = ctx.device;
    this.code = code;
  }
}

// ---- kernel errors (rc < 0)

export class OpalKernelError extends OpalError {
  override name = 'OpalKernelError';
  readonly errno: number;
  constructor(ctx: OpalErrorContext, errno: number, what = 'kernel error') {
    super(ctx, errnoName(errno), what);
    this.errno = errno;
  }
}

/** EACCES/EPERM: the caller lacks CAP_SYS_ADMIN (or may not open the node). */
export class OpalPermissionError extends OpalKernelError {
  override name = 'OpalPermissionError';
  constructor(ctx: OpalErrorContext, errno: number) {
    super(ctx, errno, 'permission denied: sed-opal needs CAP_SYS_ADMIN');
  }
}

/** EOPNOTSUPP/ENOTSUPP: the device has no Opal support (or sits behind a USB bridge). */
export class OpalNotSupportedError extends OpalKernelError {
  override name = 'OpalNotSupportedError';
  constructor(ctx: OpalErrorContext, errno: number) {
    super(ctx, errno, 'not an Opal device');
  }
}

/** ENOTTY: the running kernel lacks this ioctl (or CONFIG_BLK_SED_OPAL, or not a block device). */
export class OpalIoctlUnsupportedError extends OpalKernelError {
  override name = 'OpalIoctlUnsupportedError';
  constructor(ctx: OpalErrorContext, errno: number) {
    super(ctx, errno, 'this kernel or device lacks the ioctl');
  }
}

/** EINVAL: the kernel rejected an argument (user id, range count, lock state, key type). */
export class OpalInvalidArgumentError extends OpalKernelError {
  override name = 'OpalInvalidArgumentError';
  constructor(ctx: OpalErrorContext, errno: number) {
    super(ctx, errno, 'invalid argument');
  }
}

/** ENXIO/ENODEV/ENOENT: the device is gone or never was. */
export class OpalNoDeviceError extends OpalKernelError {
  override name = 'OpalNoDeviceError';
  constructor(ctx: OpalErrorContext, errno: number) {
    super(ctx, errno, 'no such device');
  }
}

/** EBUSY/EAGAIN: try again later (STACK_RESET, a busy controller). */
export class OpalDeviceBusyError extends OpalKernelError {
  override name = 'OpalDeviceBusyError';
  constructor(ctx: OpalErrorContext, errno: number) {
    super(ctx, errno, 'device busy');
  }
}

export function kernelError(ctx: OpalErrorContext, errno: number): OpalKernelError {
  switch (errno) {
    case constants.errno.EACCES:
    case constants.errno.EPERM:
      return new OpalPermissionError(ctx, errno);
    case constants.errno.EOPNOTSUPP:
    case ENOTSUPP:
      return new OpalNotSupportedError(ctx, errno);
    case constants.errno.ENOTTY:
      return new OpalIoctlUnsupportedError(ctx, errno);
    case constants.errno.EINVAL:
      return new OpalInvalidArgumentError(ctx, errno);
    case constants.errno.ENXIO:
    case constants.errno.ENODEV:
    case constants.errno.ENOENT:
      return new OpalNoDeviceError(ctx, errno);
    case constants.errno.EBUSY:
    case constants.errno.EAGAIN:
      return new OpalDeviceBusyError(ctx, errno);
    default:
      return new OpalKernelError(ctx, errno);
  }
}

// ---- drive statuses (rc > 0)

const RETRYABLE = new Set<number>([TcgStatus.SP_BUSY, TcgStatus.NO_SESSIONS_AVAILABLE]);

export class OpalStatusError extends OpalError {
  override name = 'OpalStatusError';
  readonly status: number;
  /** SP_BUSY and NO_SESSIONS_AVAILABLE clear up by themselves; nothing else does. */
  readonly retryable: boolean;
  constructor(ctx: OpalErrorContext, status: number, what = 'the drive refused the method') {
    super(ctx, tcgStatusName(status) ?? `TCG status 0x${status.toString(16)}`, what);
    this.status = status;
    this.retryable = RETRYABLE.has(status);
  }
}

/** 0x01: wrong PIN (the drive counted a try) or the authority may not do this. */
export class OpalNotAuthorizedError extends OpalStatusError {
  override name = 'OpalNotAuthorizedError';
  constructor(ctx: OpalErrorContext) {
    super(ctx, TcgStatus.NOT_AUTHORIZED, 'not authorized: wrong PIN or no permission');
  }
}

/** 0x12: TryLimit reached; the authority stays locked out until a power cycle. */
export class OpalLockedOutError extends OpalStatusError {
  override name = 'OpalLockedOutError';
  constructor(ctx: OpalErrorContext) {
    super(
      ctx,
      TcgStatus.AUTHORITY_LOCKED_OUT,
      'authority locked out after too many wrong PINs; power-cycle the drive',
    );
  }
}

export function statusError(ctx: OpalErrorContext, status: number): OpalStatusError {
  if (status === TcgStatus.NOT_AUTHORIZED) return new OpalNotAuthorizedError(ctx);
  if (status === TcgStatus.AUTHORITY_LOCKED_OUT) return new OpalLockedOutError(ctx);
  if (RETRYABLE.has(status)) return new OpalStatusError(ctx, status, 'drive busy, try again');
  return new OpalStatusError(ctx, status);
}

/** The error a non-zero ioctl result stands for, or undefined for success. */
export function resultError(ctx: OpalErrorContext, r: IoctlResult): OpalError | undefined {
  if (r.rc === 0) return undefined;
  if (r.rc < 0) return kernelError(ctx, r.errno);
  return statusError(ctx, r.rc);
}

/** Throw the typed error for a non-zero result. */
export function checkResult(ctx: OpalErrorContext, r: IoctlResult): void {
  const err = resultError(ctx, r);
  if (err) throw err;
}

/** The unlock went through but a status re-read still shows the range locked. */
export class OpalVerifyError extends OpalError {
  override name = 'OpalVerifyError';
  constructor(ctx: OpalErrorContext, what: string) {
    super(ctx, 'VERIFY_FAILED', what);
  }
}
