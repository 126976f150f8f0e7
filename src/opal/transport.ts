// The DriveTransport port: the one seam between drive operations and a drive. The real
// side is libc open/ioctl/close through koffi; the simulated side carries the very same
// bytes over ekmd-sim's Unix socket. See the architecture page, "Ports between layers".

/**
 * Result of one ioctl, in the kernel's convention:
 *   rc < 0  kernel error, errno set (e.g. EACCES, ENOTTY, EOPNOTSUPP);
 *   rc == 0 success;
 *   rc > 0  TCG method status from the drive (1 NOT_AUTHORIZED, 0x12 AUTHORITY_LOCKED_OUT, …).
 */
export interface IoctlResult {
  rc: number;
  errno: number;
}

export interface DriveTransport {
  /**
   * How many drive operations callers should keep in flight at once: the ioctl side is
   * bound by libuv's thread pool, a socket is not. Absent: 2.
   */
  readonly maxInFlight?: number;
  /** Open a whole-disk node read-only (O_RDONLY|O_CLOEXEC); returns a handle. */
  open(path: string): Promise<number>;
  /**
   * Issue `request` with `buf` as the argument. `buf.length` must equal the size encoded
   * in the request number. For _IOR/_IOWR requests the transport writes the kernel's
   * answer back into `buf`.
   */
  ioctl(fd: number, request: number, buf: Buffer): Promise<IoctlResult>;
  /**
   * For requests whose struct carries a user pointer `data` (DISCOVERY, WRITE_SHADOW_MBR,
   * GENERIC_TABLE_RW): the transport points that field at `data` (the simulator carries
   * `data` alongside instead) and leaves what the kernel wrote there in `data`.
   * Optional: drive operations report such requests as unsupported without it.
   */
  ioctlWithData?(fd: number, request: number, buf: Buffer, data: Buffer): Promise<IoctlResult>;
  close(fd: number): Promise<void>;
}
