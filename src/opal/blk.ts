// The two block-layer ioctls the Opal layer needs besides sed-opal (<linux/fs.h>).
import { ioc } from './abi';
import { checkResult } from './errors';
import type { DriveTransport } from './transport';

const EMPTY = Buffer.alloc(0);

/** _IOR(0x12, 114, size_t): device size in bytes (u64). */
export const BLKGETSIZE64 = ioc('read', 0x12, 114, 8);
/** _IO(0x12, 95): re-read the partition table, e.g. once a locked disk is readable. */
export const BLKRRPART = ioc('none', 0x12, 95, 0);

/**
 * Ask the kernel to re-read a disk's partition table once it is readable: while locked,
 * the boot-time scan saw only I/O errors. Throws the typed error of a failure.
 */
export async function rereadPartitions(transport: DriveTransport, path: string): Promise<void> {
  const fd = await transport.open(path);
  try {
    checkResult({ op: 'BLKRRPART', device: path }, await transport.ioctl(fd, BLKRRPART, EMPTY));
  } finally {
    await transport.close(fd);
  }
}
