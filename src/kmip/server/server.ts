// The development KMIP server: mutual TLS on a plain TCP listener (so a fault can hold a
// connection before its handshake), one request at a time per connection, objects owned
// by the client certificate's CN. For development and tests only.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  createServer as createTlsServer,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import type { Logger } from 'pino';
import {
  ItemType,
  ResultReason,
  ResultStatus,
  Tag,
  decodeTtlv,
  encodeTtlv,
  type TtlvItem,
} from '../ttlv';
import { decodeRequest, encodeResponse, type RequestMessage } from '../messages';
import { FrameReader } from '../client/framing';
import { Engine, SERVER_VERSIONS } from './engine';
import type { Fault } from './faults';
import { ObjectFile } from './object-file';

export interface DevServerOptions {
  stateDir: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  ca: string | string[];
  cert: string;
  key: string;
  logger?: Logger;
}

const MAX_REQUEST_BYTES = 1024 * 1024;

export class DevKmipServer {
  fault: Fault = { kind: 'none' };
  private readonly engine: Engine;
  private readonly tls: TlsServer;
  private readonly listener: Server;
  private readonly sockets = new Set<Socket>();
  private readonly logger: Logger | undefined;

  private constructor(opts: DevServerOptions) {
    this.engine = new Engine(new ObjectFile(opts.stateDir));
    // Not listening itself: the TCP listener hands it the connections a fault lets through.
    this.tls = createTlsServer(
      {
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        minVersion: 'TLSv1.2',
        requestCert: true,
        rejectUnauthorized: true,
      },
      (tls) => this.serve(tls),
    );
    this.tls.on('tlsClientError', (err) =>
      this.logger?.debug({ err: err.message }, 'kmip dev handshake failed'),
    );
    this.logger = opts.logger;
    this.listener = createServer((sock) => this.accept(sock));
  }

  static async start(opts: DevServerOptions): Promise<DevKmipServer> {
    const srv = new DevKmipServer(opts);
    await new Promise<void>((resolve, reject) => {
      srv.listener.once('error', reject);
      srv.listener.listen(opts.port, opts.host, () => {
        srv.listener.off('error', reject);
        resolve();
      });
    });
    return srv;
  }

  get address(): AddressInfo {
    return this.listener.address() as AddressInfo;
  }

  /** Close every open connection now (a server or load balancer dropping idle ones). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
  }

  private accept(raw: Socket): void {
    this.sockets.add(raw);
    raw.setNoDelay(true);
    raw.on('close', () => this.sockets.delete(raw));
    raw.on('error', () => undefined);
    if (this.fault.kind === 'refuse') {
      raw.destroy();
      return;
    }
    if (this.fault.kind === 'stall') return; // held open, never answered
    this.tls.emit('connection', raw);
  }

  private serve(tls: TLSSocket): void {
    tls.on('error', (err) => this.logger?.debug({ err: err.message }, 'kmip dev connection error'));
    const owner = peerCn(tls);
    const reader = new FrameReader(MAX_REQUEST_BYTES);
    let busy: Promise<void> = Promise.resolve();
    tls.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch {
        reader.clear();
        tls.destroy();
        return;
      }
      for (const frame of frames) busy = busy.then(() => this.answer(tls, frame, owner));
    });
    tls.on('close', () => reader.clear());
  }

  private async answer(tls: TLSSocket, frame: Buffer, owner: string | undefined): Promise<void> {
    const fault = this.fault;
    if (fault.kind === 'stall') {
      frame.fill(0);
      return;
    }
    if (fault.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault.kind === 'garbage') {
      frame.fill(0);
      tls.write(randomBytes(64).fill(0x41, 0, 8));
      return;
    }
    let out: Buffer;
    try {
      out = this.respond(frame, owner, fault);
    } finally {
      frame.fill(0);
    }
    if (!tls.destroyed) tls.write(out, () => out.fill(0));
  }

  private respond(frame: Buffer, owner: string | undefined, fault: Fault): Buffer {
    let req: RequestMessage;
    try {
      req = decodeRequest(decodeTtlv(frame, { maxBytes: MAX_REQUEST_BYTES }));
    } catch (err) {
      return messageFailure(
        ResultReason.InvalidMessage,
        `Error parsing request message: ${(err as Error).message}`,
      );
    }
    if (
      !SERVER_VERSIONS.some((v) => v.major === req.version.major && v.minor === req.version.minor)
    ) {
      return messageFailure(ResultReason.InvalidMessage, 'unsupported protocol version');
    }
    if (!owner) {
      return messageFailure(
        ResultReason.AuthenticationNotSuccessful,
        'client certificate has no single CN',
      );
    }
    if (fault.kind === 'reason') {
      return encode(
        encodeResponse({
          version: req.version,
          items: req.items.map((it) => ({
            operation: it.operation,
            ...(it.batchId ? { batchId: it.batchId } : {}),
            resultStatus: ResultStatus.OperationFailed,
            resultReason: fault.reason,
            resultMessage: `injected fault: ${fault.name}`,
          })),
        }),
      );
    }
    let res;
    try {
      res = this.engine.handle(req, owner);
    } catch (err) {
      this.logger?.error({ err: (err as Error).message }, 'kmip dev server failure');
      return messageFailure(ResultReason.GeneralFailure, 'internal error', req.version);
    }
    this.logger?.debug({ owner, items: req.items.length }, 'kmip dev request');
    return encode(encodeResponse(res));
  }
}

/** Encode, then wipe key material out of the tree (the encoded copy is zeroed after writing). */
function encode(msg: TtlvItem): Buffer {
  const out = encodeTtlv(msg);
  wipe(msg);
  return out;
}

function wipe(item: TtlvItem): void {
  if (item.type === ItemType.Structure) item.value.forEach(wipe);
  else if (item.type === ItemType.ByteString && item.tag === Tag.KeyMaterial) item.value.fill(0);
}

/** A failure of the whole message: header 1.0 and no Operation, as PyKMIP answers. */
function messageFailure(reason: number, message: string, version = { major: 1, minor: 0 }): Buffer {
  return encodeTtlv(
    encodeResponse({
      version,
      items: [
        {
          resultStatus: ResultStatus.OperationFailed,
          resultReason: reason,
          resultMessage: message,
        },
      ],
    }),
  );
}

function peerCn(tls: TLSSocket): string | undefined {
  const cn = tls.getPeerCertificate().subject?.CN as string | string[] | undefined;
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}
