// The real DriveTransport: the kernel's sed-opal ioctls on a whole-disk node, through
// koffi. Async calls are capped below libuv's pool size (see in-flight-limit.ts).
import type { Logger } from 'pino';
import { checkIoctlBuffer, opalIoctlByRequest } from './abi';
import { kernelError } from './errors';
import { defaultInFlightCap, InFlightLimit, threadPoolSize } from '../util/in-flight-limit';
import type { Libc } from './libc';
import type { DriveTransport, IoctlResult } from './transport';

export interface LibcTransportOptions {
  logger?: Logger;
  /** Concurrent blocking calls on the thread pool; must stay below UV_THREADPOOL_SIZE. */
  maxInFlight?: number;
}

/** koffi loads with the first call: a daemon on the simulator backend never needs it. */
const native = (): typeof import('./libc') => require('./libc') as typeof import('./libc');

function libc(): Libc {
  return native().libc();
}

function requestName(request: number): string {
  return opalIoctlByRequest(request)?.name ?? `0x${(request >>> 0).toString(16)}`;
}

function checkFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff)
    throw new RangeError(`not a file descriptor: ${fd}`);
}

function checkPath(path: string): void {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0'))
    throw new TypeError('a device path must be absolute and contain no NUL byte');
}

export class LibcTransport implements DriveTransport {
  private readonly log: Logger | undefined;
  private readonly limit: InFlightLimit;

  constructor(opts: LibcTransportOptions = {}) {
    const pool = threadPoolSize();
    const max = opts.maxInFlight ?? defaultInFlightCap(pool);
    if (max >= pool)
      throw new RangeError(
        `maxInFlight ${max} must stay below the libuv thread pool size ${pool} (UV_THREADPOOL_SIZE)`,
      );
    this.limit = new InFlightLimit(max);
    this.log = opts.logger;
  }

  /** Callers need not queue more than the pool slots this transport uses. */
  get maxInFlight(): number {
    return this.limit.max;
  }

  /** Calls waiting for a pool slot (a wedged drive shows up here). */
  get queued(): number {
    return this.limit.queued;
  }

  async open(path: string): Promise<number> {
    checkPath(path);
    const r = await this.limit.run(() => libc().open(path, native().O_RDONLY_CLOEXEC));
    if (r.rc < 0) throw kernelError({ op: 'open', device: path }, r.errno);
    this.log?.debug({ device: path, fd: r.rc }, 'opened drive');
    return r.rc;
  }

  async ioctl(fd: number, request: number, buf: Buffer): Promise<IoctlResult> {
    checkFd(fd);
    checkIoctlBuffer(request, buf);
    const r = await this.limit.run(() => libc().ioctl(fd, request, buf.length ? buf : null));
    this.log?.debug({ fd, ioctl: requestName(request), rc: r.rc, errno: r.errno }, 'ioctl');
    return r;
  }

  async ioctlWithData(
    fd: number,
    request: number,
    buf: Buffer,
    data: Buffer,
  ): Promise<IoctlResult> {
    const field = opalIoctlByRequest(request)?.struct?.fields.data;
    if (field === undefined)
      throw new RangeError(`${requestName(request)} carries no data pointer`);
    checkIoctlBuffer(request, buf);
    buf.writeBigUInt64LE(libc().address(data), field);
    try {
      // `data` stays referenced by this frame until the call returns.
      return await this.ioctl(fd, request, buf);
    } finally {
      buf.writeBigUInt64LE(0n, field);
    }
  }

  /** Synchronous ioctl for probes and benchmarks; blocks the event loop for the call. */
  ioctlSync(fd: number, request: number, buf: Buffer): IoctlResult {
    checkFd(fd);
    checkIoctlBuffer(request, buf);
    return libc().ioctlSync(fd, request, buf.length ? buf : null);
  }

  async close(fd: number): Promise<void> {
    checkFd(fd);
    const r = await this.limit.run(() => libc().close(fd));
    if (r.rc < 0) throw kernelError({ op: 'close' }, r.errno);
  }
}
