// A JSON-RPC client for ekmd's API as the SolidFire SDK uses it (Basic auth, POST
// /json-rpc/12.3); one keep-alive connection per client, so load runs are many clients.
import { Agent, request } from 'node:https';
import type { Socket } from 'node:net';

/** A call's error when its connection ended before the TLS handshake: nothing was sent. */
export class RefusedBeforeHandshake extends Error {
  constructor(method: string, cause: Error) {
    super(`${method}: connection closed before its TLS handshake: ${cause.message}`);
  }
}

export interface RpcError {
  name: string;
  message: string;
}

export interface RpcReply {
  result?: Record<string, any>;
  error?: RpcError;
}

export class RpcClient {
  private nextId = 0;
  private readonly agent: Agent;
  private readonly auth: string;
  /** Connections whose TLS handshake finished. */
  private readonly secured = new WeakSet<Socket>();

  constructor(
    readonly port: number,
    readonly ca: string,
    admin: { username: string; password: string },
    /** The source address (127.0.0.x): clients of several hosts, each under the per-address cap. */
    localAddress?: string,
    /** The API's address: a node of a cluster on loopback is 127.0.0.N. */
    readonly host = '127.0.0.1',
  ) {
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca,
      ...(localAddress ? { localAddress } : {}),
    });
    this.auth = 'Basic ' + Buffer.from(`${admin.username}:${admin.password}`).toString('base64');
  }

  call(method: string, params: object = {}): Promise<RpcReply> {
    const body = JSON.stringify({ method, params, id: this.nextId++ });
    return new Promise((resolve, reject) => {
      let socket: Socket | undefined;
      const req = request(
        {
          host: this.host,
          port: this.port,
          path: '/json-rpc/12.3',
          method: 'POST',
          agent: this.agent,
          headers: { authorization: this.auth },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve(JSON.parse(text) as RpcReply);
            } catch {
              reject(
                new Error(`${method}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 80)}`),
              );
            }
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error(`${method}: no answer in 60 s`)));
      req.on('socket', (s: Socket) => {
        socket = s;
        if (!this.secured.has(s)) s.once('secureConnect', () => this.secured.add(s));
      });
      req.on('error', (err) =>
        reject(socket && !this.secured.has(socket) ? new RefusedBeforeHandshake(method, err) : err),
      );
      req.end(body);
    });
  }

  /** The result, or an Error "name: message". */
  async ok(method: string, params: object = {}): Promise<Record<string, any>> {
    const r = await this.call(method, params);
    if (!r.result) throw new Error(`${method}: ${r.error?.name}: ${r.error?.message}`);
    return r.result;
  }

  close(): void {
    this.agent.destroy();
  }
}
