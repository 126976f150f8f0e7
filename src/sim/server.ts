// The simulator's service on a Unix socket: the DriveTransport (open/ioctl/close), the
// DriveInventory (list, plug/unplug/relock events), the DataPath (attach/detach a DEK),
// and the test-bench controls behind the ekmd-sim commands. Every request is validated;
// a bad one gets an error answer, a malformed stream is disconnected, nothing crashes.
import { existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { constants as os } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { listenPrivately } from '../util/private-socket';
import { opalIoctlByRequest } from '../opal/abi';
import { MediaError, type Fault } from './drive/sim-drive';
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES, type Frame } from '../opal/sim-socket/frame';
import type { Simulator } from './simulator';

export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    message: string,
    readonly code = 'EINVAL',
  ) {
    super(message);
  }
}

type Reply = { header?: Record<string, unknown>; payload?: Buffer };

const FAULTS: readonly Fault[] = ['io-error', 'slow', 'non-opal', 'clear'];

function int(h: Record<string, unknown>, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = h[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw new RequestError(`'${name}' must be an integer 0..${max}`);
  return v;
}

function optInt(h: Record<string, unknown>, name: string): number | undefined {
  return h[name] === undefined ? undefined : int(h, name);
}

function str(h: Record<string, unknown>, name: string): string {
  const v = h[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > 256)
    throw new RequestError(`'${name}' must be a non-empty string`);
  return v;
}

/** One client: its own file descriptors and event subscription. */
class Session {
  /** fd -> drive and the plug generation it was opened in (a re-plugged drive is new). */
  private readonly fds = new Map<number, { n: number; generation: number }>();
  private nextFd = 3;
  private unsubscribe: (() => void) | null = null;
  private readonly decoder = new FrameDecoder();

  constructor(
    private readonly sim: Simulator,
    private readonly socket: Socket,
    private readonly logger?: Logger,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.close());
    socket.on('error', () => socket.destroy());
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.decoder.clear();
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, 'malformed frame; disconnecting client');
      this.socket.destroy();
      return;
    }
    for (const f of frames) void this.answer(f);
  }

  private async answer(f: Frame): Promise<void> {
    const id = f.header.id;
    let reply: Reply;
    try {
      if (typeof id !== 'number' || !Number.isInteger(id))
        throw new RequestError("'id' must be an integer");
      reply = await this.handle(f.header, f.payload);
      reply.header = { ...reply.header, id, ok: true };
    } catch (err) {
      const known = err instanceof RequestError || err instanceof MediaError;
      const code = known ? err.code : err instanceof RangeError ? 'EINVAL' : 'EIO';
      if (!known && !(err instanceof RangeError))
        this.logger?.error({ err: (err as Error).message }, 'request failed');
      reply = { header: { id, ok: false, error: (err as Error).message, code } };
    } finally {
      f.payload.fill(0);
    }
    if (this.socket.destroyed) return;
    let frame = encodeFrame(reply.header ?? {}, reply.payload);
    reply.payload?.fill(0);
    if (frame.length - 4 > MAX_FRAME_BYTES) {
      // The client would drop the connection on it: answer a clear error instead.
      const error = `reply of ${frame.length - 4} bytes exceeds the ${MAX_FRAME_BYTES}-byte frame limit`;
      frame.fill(0);
      frame = encodeFrame({ id, ok: false, error, code: 'E2BIG' });
    }
    this.socket.write(frame, () => frame.fill(0));
  }

  private async handle(h: Record<string, unknown>, payload: Buffer): Promise<Reply> {
    const sim = this.sim;
    switch (h.op) {
      case 'open': {
        const m = /^sim:(\d{1,3})$/.exec(str(h, 'path'));
        const d = m ? sim.drives[Number(m[1])] : undefined;
        if (!d || !d.rec.plugged)
          throw new RequestError(`no such device ${String(h.path)}`, 'ENOENT');
        const fd = this.nextFd++;
        this.fds.set(fd, { n: d.index, generation: d.plugGeneration });
        return { header: { fd } };
      }
      case 'close': {
        if (!this.fds.delete(int(h, 'fd'))) throw new RequestError('bad file descriptor', 'EBADF');
        return {};
      }
      case 'ioctl': {
        const request = int(h, 'request', 0xffffffff);
        const open = this.fds.get(int(h, 'fd'));
        if (!open) return { header: { rc: -os.errno.EBADF, errno: os.errno.EBADF } };
        const n = open.n;
        const d = sim.drive(n);
        if (d.rec.faults.slowMs > 0) await delay(d.rec.faults.slowMs);
        if (!d.rec.plugged || d.plugGeneration !== open.generation)
          return { header: { rc: -os.errno.ENODEV, errno: os.errno.ENODEV } };
        // The payload is the struct, then (with bufLen) the buffer its user pointer names.
        const bufLen = h.bufLen === undefined ? payload.length : int(h, 'bufLen', payload.length);
        const buf = Buffer.from(payload.subarray(0, bufLen));
        const data = h.bufLen === undefined ? undefined : Buffer.from(payload.subarray(bufLen));
        const r = sim.ioctl(n, request, buf, data);
        this.logger?.debug(
          { drive: n, ioctl: opalIoctlByRequest(request)?.name ?? request, rc: r.rc },
          'ioctl',
        );
        return {
          header: { rc: r.rc, errno: r.errno },
          payload: data ? Buffer.concat([buf, data]) : buf,
        };
      }
      case 'list':
        return { header: { drives: sim.list() } };
      case 'subscribe':
        this.unsubscribe ??= sim.onInventory((event) => {
          if (!this.socket.destroyed) this.socket.write(encodeFrame({ event }));
        });
        return {};
      case 'attach':
        this.bySerial(h).attachDek(payload);
        return {};
      case 'detach':
        this.bySerial(h).detachDek();
        return {};
      case 'is-attached':
        return { header: { attached: this.bySerial(h).dekAttached } };
      case 'power-cycle':
        sim.powerCycle(optInt(h, 'drive'));
        return {};
      case 'suspend-resume':
        sim.suspendResume(optInt(h, 'drive'));
        return {};
      case 'unplug':
        sim.unplug(optInt(h, 'drive'));
        return {};
      case 'plug':
        sim.plug(optInt(h, 'drive'));
        return {};
      case 'inject': {
        const fault = h.fault as Fault;
        if (!FAULTS.includes(fault))
          throw new RequestError(`fault must be one of ${FAULTS.join(', ')}`);
        sim.inject(int(h, 'drive'), fault, optInt(h, 'ms'));
        return {};
      }
      case 'status':
        return { header: sim.status() };
      case 'locked': // the indexes of the plugged, locked drives: a small answer at any count
        return {
          header: {
            locked: sim
              .status()
              .drives.filter((d) => d.plugged && d.locked)
              .map((d) => d.index),
          },
        };
      case 'label': {
        const d = sim.drive(int(h, 'drive'));
        return { header: { serial: d.rec.serial, model: d.rec.model, psid: d.rec.psid } };
      }
      case 'read':
        return { payload: sim.drive(int(h, 'drive')).readBlock(int(h, 'lba')) };
      case 'write':
        sim.drive(int(h, 'drive')).writeBlock(int(h, 'lba'), payload);
        return {};
      default:
        throw new RequestError(`unknown op ${JSON.stringify(h.op)}`);
    }
  }

  private bySerial(h: Record<string, unknown>) {
    const serial = str(h, 'serial');
    const d = this.sim.drives.find((x) => x.rec.serial === serial && x.rec.plugged);
    if (!d) throw new RequestError(`no drive with serial ${serial}`, 'ENOENT');
    return d;
  }
}

export class SimServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly sim: Simulator,
    readonly socketPath: string,
    private readonly logger?: Logger,
  ) {}

  async listen(): Promise<void> {
    await this.removeStaleSocket();
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      new Session(this.sim, socket, this.logger);
    });
    // 0600 from its first instant: drive PINs and DEKs cross this socket.
    await listenPrivately(server, this.socketPath);
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A socket file nobody answers on is left over from a killed simulator. */
  private async removeStaleSocket(): Promise<void> {
    if (!existsSync(this.socketPath)) return;
    const alive = await new Promise<boolean>((resolve) => {
      const c = connect(this.socketPath);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (alive) throw new Error(`another ekmd-sim is serving ${this.socketPath}`);
    unlinkSync(this.socketPath);
  }
}
