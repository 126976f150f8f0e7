// Talks to the API the way the SolidFire Python SDK does: POST /json-rpc/<version>, a str
// body with no Content-Type and no "jsonrpc" member, integer ids from 0, HTTP Basic on
// every request, one keep-alive connection.
import { Agent, request } from 'node:https';

export interface RawReply {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface RpcReply {
  status: number;
  id: unknown;
  result?: Record<string, unknown> & { [k: string]: any };
  error?: { code: number; name: string; message: string };
  unusedParameters?: Record<string, unknown>;
}

export class ElementClient {
  private nextId = 0;
  readonly agent: Agent;

  constructor(
    readonly port: number,
    ca: string,
    public username: string,
    public password: string,
    public version = '12.3',
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
  }

  async call(method: string, params: Record<string, unknown> = {}): Promise<RpcReply> {
    const body = JSON.stringify({ method, id: this.nextId++, params });
    const reply = await this.post(`/json-rpc/${this.version}`, body);
    return { status: reply.status, ...JSON.parse(reply.text) };
  }

  /** Calls `method` and returns its result, failing loudly on an error reply. */
  async ok(method: string, params: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const reply = await this.call(method, params);
    if (!reply.result) throw new Error(`${method}: ${JSON.stringify(reply.error)}`);
    return reply.result;
  }

  post(
    path: string,
    body: string | Buffer,
    options: { method?: string; auth?: string | null; headers?: Record<string, string> } = {},
  ): Promise<RawReply> {
    const auth =
      options.auth === undefined
        ? 'Basic ' + Buffer.from(`${this.username}:${this.password}`).toString('base64')
        : options.auth;
    const headers: Record<string, string> = { ...options.headers };
    if (auth !== null) headers.Authorization = auth;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          path,
          method: options.method ?? 'POST',
          agent: this.agent,
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              headers: res.headers,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
