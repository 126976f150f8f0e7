// The two block-layer ioctls the Opal layer needs besides sed-opal (<linux/fs.h>).
import { ioc } from './abi';

/** _IOR(0x12, 114, size_t): device size in bytes (u64). */
export const BLKGETSIZE64 = ioc('read', 0x12, 114, 8);
/** _IO(0x12, 95): re-read the partition table, e.g. once a locked disk is readable. */
export const BLKRRPART = ioc('none', 0x12, 95, 0);
