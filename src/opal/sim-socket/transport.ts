// DriveTransport over the ekmd-sim socket: the same request numbers and struct bytes the
// libc transport hands to the kernel, carried to the simulator. open("sim:N") opens drive N.
import { checkIoctlBuffer, opalIoctlByRequest } from '../abi';
import type { DriveTransport, IoctlResult } from '../transport';
import { SimConnection } from './connection';

export class SimTransport implements DriveTransport {
  /** Requests are pipelined on one socket: many drives can be in flight at once. */
  readonly maxInFlight = 1024;
  private readonly conn: SimConnection;

  constructor(socketPath: string) {
    this.conn = new SimConnection(socketPath);
  }

  /** Rejects like open(2) would: an Error with `code` ENOENT for a missing drive. */
  async open(path: string): Promise<number> {
    const { header } = await this.conn.request({ op: 'open', path });
    return header.fd as number;
  }

  async ioctl(fd: number, request: number, buf: Buffer): Promise<IoctlResult> {
    // Same contract as the libc transport: the argument is exactly _IOC_SIZE bytes.
    checkIoctlBuffer(request, buf);
    const { header, payload } = await this.conn.request({ op: 'ioctl', fd, request }, buf);
    if (payload.length === buf.length) payload.copy(buf);
    payload.fill(0);
    return { rc: header.rc as number, errno: header.errno as number };
  }

  /** The buffer a struct's user pointer would name travels beside the struct. */
  async ioctlWithData(
    fd: number,
    request: number,
    buf: Buffer,
    data: Buffer,
  ): Promise<IoctlResult> {
    if (opalIoctlByRequest(request)?.struct?.fields.data === undefined)
      throw new RangeError(`request 0x${request.toString(16)} carries no data pointer`);
    checkIoctlBuffer(request, buf);
    const out = Buffer.concat([buf, data]);
    const { header, payload } = await this.conn
      .request({ op: 'ioctl', fd, request, bufLen: buf.length }, out)
      .finally(() => out.fill(0));
    if (payload.length === buf.length + data.length) {
      payload.copy(buf, 0, 0, buf.length);
      payload.copy(data, 0, buf.length);
    }
    payload.fill(0);
    return { rc: header.rc as number, errno: header.errno as number };
  }

  async close(fd: number): Promise<void> {
    await this.conn.request({ op: 'close', fd });
  }

  /** Close the connection to the simulator (not part of the port). */
  async end(): Promise<void> {
    await this.conn.close();
  }
}
