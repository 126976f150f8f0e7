// The kernel's ioctl request-number encoding (asm-generic/ioctl.h, used by x86_64 and
// aarch64): nr in bits 0-7, type in 8-15, argument size in 16-29, direction in 30-31.

export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

export type IocDirection = 'none' | 'write' | 'read' | 'readwrite';

const DIR_BITS: Record<IocDirection, number> = {
  none: IOC_NONE,
  write: IOC_WRITE,
  read: IOC_READ,
  readwrite: IOC_READ | IOC_WRITE,
};

/** Largest argument size the 14-bit size field can carry. */
export const IOC_SIZE_MAX = 0x3fff;

/** _IOC(dir, type, nr, size) as an unsigned 32-bit number. */
export function ioc(dir: IocDirection, type: number, nr: number, size: number): number {
  if (!Number.isInteger(size) || size < 0 || size > IOC_SIZE_MAX)
    throw new RangeError(`ioctl argument size ${size} does not fit the request number`);
  return (
    ((DIR_BITS[dir] << 30) | ((size & IOC_SIZE_MAX) << 16) | ((type & 0xff) << 8) | (nr & 0xff)) >>>
    0
  );
}

export function iocNr(request: number): number {
  return request & 0xff;
}

export function iocType(request: number): number {
  return (request >>> 8) & 0xff;
}

/** _IOC_SIZE: how many bytes the kernel copies from (and back to) the argument. */
export function iocSize(request: number): number {
  return (request >>> 16) & IOC_SIZE_MAX;
}

export function iocDirection(request: number): IocDirection {
  const bits = (request >>> 30) & 3;
  return bits === IOC_NONE
    ? 'none'
    : bits === IOC_WRITE
      ? 'write'
      : bits === IOC_READ
        ? 'read'
        : 'readwrite';
}

/**
 * The kernel copies exactly _IOC_SIZE(request) bytes with memdup_user/copy_to_user, and an
 * FFI cannot know a Buffer's intended size, so every caller checks before the syscall.
 */
export function checkIoctlBuffer(request: number, buf: Buffer): void {
  const want = iocSize(request);
  if (buf.length !== want)
    throw new RangeError(
      `ioctl 0x${request.toString(16).padStart(8, '0')} takes a ${want}-byte argument, got ${buf.length} bytes`,
    );
}
