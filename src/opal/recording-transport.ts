// A DriveTransport that records every call with a copy of the bytes as sent, for tests
// that pin the exact ioctl sequence. It answers from a `respond` function, or forwards
// to an inner transport. Recorded bytes include PINs: a test tool, never for production.
import { opalIoctlByRequest } from './abi';
import type { DriveTransport, IoctlResult } from './transport';

export type RecordedCall =
  | { op: 'open'; path: string; fd: number }
  | {
      op: 'ioctl';
      fd: number;
      request: number;
      /** IOC_OPAL_* name, or the hex request for anything else. */
      name: string;
      /** Copy of the argument as it went to the drive. */
      bytes: Buffer;
      /** The caller's own buffer, to check it was zeroed afterwards. */
      sent: Buffer;
      result: IoctlResult;
    }
  | { op: 'close'; fd: number };

export type Responder = (
  request: number,
  buf: Buffer,
  data?: Buffer,
) => IoctlResult | Promise<IoctlResult>;

export interface RecordingTransportOptions {
  /** Answer for each ioctl; default success. May write into `buf` or `data`. */
  respond?: Responder;
  /** Forward to this transport instead of `respond`. */
  inner?: DriveTransport;
}

const OK: IoctlResult = { rc: 0, errno: 0 };

export class RecordingTransport implements DriveTransport {
  readonly calls: RecordedCall[] = [];
  private nextFd = 100;
  private readonly respond: Responder;
  private readonly inner: DriveTransport | undefined;

  constructor(opts: RecordingTransportOptions = {}) {
    this.inner = opts.inner;
    this.respond = opts.respond ?? (() => OK);
  }

  /** The ioctl calls only, in order. */
  get ioctls(): Extract<RecordedCall, { op: 'ioctl' }>[] {
    return this.calls.filter((c): c is Extract<RecordedCall, { op: 'ioctl' }> => c.op === 'ioctl');
  }

  async open(path: string): Promise<number> {
    const fd = this.inner ? await this.inner.open(path) : this.nextFd++;
    this.calls.push({ op: 'open', path, fd });
    return fd;
  }

  async ioctl(fd: number, request: number, buf: Buffer): Promise<IoctlResult> {
    const bytes = Buffer.from(buf);
    const result = this.inner
      ? await this.inner.ioctl(fd, request, buf)
      : await this.respond(request, buf);
    this.record(fd, request, bytes, buf, result);
    return result;
  }

  async ioctlWithData(
    fd: number,
    request: number,
    buf: Buffer,
    data: Buffer,
  ): Promise<IoctlResult> {
    const bytes = Buffer.from(buf);
    let result: IoctlResult;
    if (!this.inner) result = await this.respond(request, buf, data);
    else if (this.inner.ioctlWithData)
      result = await this.inner.ioctlWithData(fd, request, buf, data);
    else throw new RangeError('the inner transport carries no data pointers');
    this.record(fd, request, bytes, buf, result);
    return result;
  }

  async close(fd: number): Promise<void> {
    if (this.inner) await this.inner.close(fd);
    this.calls.push({ op: 'close', fd });
  }

  private record(fd: number, request: number, bytes: Buffer, sent: Buffer, result: IoctlResult) {
    const name = opalIoctlByRequest(request)?.name ?? `0x${request.toString(16)}`;
    this.calls.push({ op: 'ioctl', fd, request, name, bytes, sent, result });
  }
}
