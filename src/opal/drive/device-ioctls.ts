// The one thin, logged ioctl wrapper under every Opal task (cryptsetup's hw_opal has the
// same seam): a drive's flow runs under its lock on one open fd, each ioctl's argument is
// zeroed after the call unless the kernel writes an answer into it, a failure becomes a
// typed error, and every PIN handed in is zeroed whatever happens. hold() keeps the node
// open across several flows (a boot's status read, then its unlock and save): one open and
// one close for all of them, where each costs a round trip (a thread-pool call, or a
// message to the simulator).
import type { Logger } from 'pino';
import * as abi from '../abi';
import { OpalIoctlUnsupportedError, resultError } from '../errors';
import type { DriveTransport } from '../transport';
import { driveLock } from './drive-lock';

export class DeviceIoctls {
  private readonly logger: Logger | undefined;
  /** The per-device child, made at the first debug line: most drives never write one. */
  private child: Logger | undefined;
  /** The fd hold() opened, shared by every flow until release(). */
  private held: Promise<number> | undefined;

  constructor(
    readonly transport: DriveTransport,
    readonly path: string,
    opts: { logger?: Logger } = {},
  ) {
    this.logger = opts.logger;
  }

  protected ctx(d: abi.OpalIoctl) {
    return { op: d.name, device: this.path };
  }

  /**
   * Opens the node now and keeps it open for the flows that follow, until release(). Rejects
   * as open(2) would; the flows then fail the same way.
   */
  async hold(): Promise<void> {
    this.held ??= this.transport.open(this.path);
    await this.held;
  }

  /** Closes what hold() opened, once the flow using it (if any) is over. */
  async release(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (!held) return;
    let fd: number;
    try {
      fd = await held;
    } catch {
      return; // never opened
    }
    await driveLock(this.transport, this.path).run(() => this.transport.close(fd));
  }

  /** Check arguments, then run `fn` on an open fd under the drive lock; always zero `pins`. */
  protected async exclusive<T>(
    pins: Buffer[],
    fn: (fd: number) => Promise<T>,
    validate: () => void = () => {},
  ): Promise<T> {
    try {
      validate();
      return await driveLock(this.transport, this.path).run(async () => {
        const held = this.held;
        const fd = await (held ?? this.transport.open(this.path));
        try {
          return await fn(fd);
        } finally {
          if (!held) await this.transport.close(fd);
        }
      });
    } finally {
      for (const pin of pins) pin.fill(0);
    }
  }

  /** A debug line tagged with the device; no child logger while debug is off. */
  protected debug(fields: Record<string, unknown>, msg: string): void {
    if (!this.logger?.isLevelEnabled('debug')) return;
    this.child ??= this.logger.child({ device: this.path });
    this.child.debug(fields, msg);
  }

  /** One ioctl; the argument is zeroed afterwards (it may hold a PIN); typed error on failure. */
  protected async call(fd: number, d: abi.OpalIoctl, buf: Buffer): Promise<void> {
    const keep = d.direction === 'read' || d === abi.IOC_OPAL_GET_LR_STATUS;
    let r;
    try {
      r = await this.transport.ioctl(fd, d.request, buf);
    } finally {
      if (!keep) buf.fill(0);
    }
    this.debug({ ioctl: d.name, rc: r.rc, errno: r.errno }, 'ioctl');
    const err = resultError(this.ctx(d), r);
    if (err) throw err;
  }

  /** Like call(), but ENOTTY (kernel lacks the ioctl) answers false instead of throwing. */
  protected async optional(fd: number, d: abi.OpalIoctl, buf: Buffer): Promise<boolean> {
    try {
      await this.call(fd, d, buf);
      return true;
    } catch (err) {
      if (err instanceof OpalIoctlUnsupportedError) return false;
      throw err;
    }
  }
}
