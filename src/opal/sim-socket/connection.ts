// Client end of the simulator socket: one connection, requests matched to responses by id,
// pushed inventory events handed to listeners. Connects on first use.
import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder, type Frame } from './frame';

/** An error the simulator answered with; `code` is an errno name where one applies. */
export class SimError extends Error {
  override name = 'SimError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

type Pending = { resolve: (f: Frame) => void; reject: (e: Error) => void };

export class SimConnection {
  private socket: Socket | null = null;
  private ready: Promise<Socket> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new FrameDecoder();
  private readonly eventListeners = new Set<(event: Record<string, unknown>) => void>();

  constructor(readonly socketPath: string) {}

  async request(header: Record<string, unknown>, payload?: Buffer): Promise<Frame> {
    const socket = await this.connect();
    const id = this.nextId++;
    const frame = encodeFrame({ ...header, id }, payload);
    return new Promise<Frame>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (f) => {
          if (f.header.ok === true) return resolve(f);
          const code = typeof f.header.code === 'string' ? f.header.code : undefined;
          reject(new SimError(String(f.header.error ?? 'simulator error'), code));
        },
        reject,
      });
      socket.write(frame, () => frame.fill(0));
    });
  }

  onEvent(fn: (event: Record<string, unknown>) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    this.ready = null;
    if (s && !s.destroyed) await new Promise<void>((res) => s.end(res));
    s?.destroy();
  }

  private connect(): Promise<Socket> {
    if (this.ready) return this.ready;
    this.ready = new Promise<Socket>((resolve, reject) => {
      const s = connect(this.socketPath);
      s.once('connect', () => {
        this.socket = s;
        resolve(s);
      });
      s.once('error', (err) => {
        this.ready = null;
        reject(
          new SimError(
            `cannot reach ekmd-sim at ${this.socketPath}: ${err.message}`,
            (err as NodeJS.ErrnoException).code,
          ),
        );
      });
      s.on('data', (chunk: Buffer) => this.onData(chunk));
      s.on('close', () => this.onClose());
    });
    return this.ready;
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.socket?.destroy(err as Error);
      return;
    }
    for (const f of frames) {
      if (typeof f.header.id === 'number') {
        const p = this.pending.get(f.header.id);
        this.pending.delete(f.header.id);
        p?.resolve(f);
      } else if (typeof f.header.event === 'object' && f.header.event !== null) {
        for (const fn of this.eventListeners) fn(f.header.event as Record<string, unknown>);
      }
    }
  }

  private onClose(): void {
    this.decoder.clear();
    this.socket = null;
    this.ready = null;
    for (const p of this.pending.values())
      p.reject(new SimError('ekmd-sim closed the connection', 'ECONNRESET'));
    this.pending.clear();
  }
}
