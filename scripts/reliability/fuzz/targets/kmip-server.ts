// A key server that answers each KMIP request with a scripted hostile answer: garbage,
// truncations, huge length claims, stalls, early closes, mutated or doubled messages.
// Loopback only; every socket it accepted is destroyed on close().
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { FrameReader } from '../../../../src/kmip/client/framing';
import { KmipError, type KmipClient } from '../../../../src/kmip/client';
import { MUTATORS } from '../mutators';
import type { FuzzTarget } from '../runner';
import type { Rng } from '../rng';

/** What to send in answer to one request, and how to leave the connection afterwards. */
export interface HostileAnswer {
  kind: string;
  chunks: Buffer[];
  end: 'stay' | 'close' | 'reset';
}

export interface TlsIdentity {
  ca: string;
  cert: string;
  key: string;
}

export class HostileKmipServer {
  /** Answers for the next requests, in order; when empty a request is met by a close. */
  readonly answers: HostileAnswer[] = [];
  private readonly sockets = new Set<TLSSocket>();

  private constructor(private readonly server: Server) {}

  static async start(tls: TlsIdentity): Promise<HostileKmipServer> {
    const server = createServer({
      ...tls,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    const hostile = new HostileKmipServer(server);
    server.on('secureConnection', (socket) => hostile.serve(socket));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return hostile;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: TLSSocket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new FrameReader(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      let requests: Buffer[];
      try {
        requests = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (let n = requests.length; n > 0; n--) this.answer(socket, this.answers.shift());
    });
  }

  private answer(socket: TLSSocket, a: HostileAnswer | undefined): void {
    if (!a) return void socket.end();
    for (const c of a.chunks) socket.write(c);
    if (a.end === 'close') socket.end();
    else if (a.end === 'reset') socket.destroy();
  }
}

/** Split a message into 1..7-byte writes. */
function dribble(msg: Buffer, rng: Rng): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < msg.length;) {
    const n = rng.range(1, 7);
    out.push(msg.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** One hostile answer built from captured responses. */
export function hostileAnswer(rng: Rng, responses: readonly Buffer[]): HostileAnswer {
  const seed = rng.pick(responses);
  const end = rng.pick(['stay', 'close', 'reset'] as const);
  const huge = Buffer.from(seed.subarray(0, 8));
  huge.writeUInt32BE(rng.pick([0xfffffff8, 0x7ffffff8, 0x00fffff8]), 4);
  const mutated = (): Buffer => {
    let m = seed;
    for (let n = rng.range(1, 3); n > 0; n--) m = rng.pick(MUTATORS)(m, rng);
    return m;
  };
  const kinds: (() => HostileAnswer)[] = [
    () => ({ kind: 'garbage', chunks: [rng.bytes(rng.range(1, 2048))], end }),
    () => ({ kind: 'truncated', chunks: [seed.subarray(0, rng.int(seed.length))], end }),
    () => ({ kind: 'huge length', chunks: [huge, rng.bytes(rng.int(64))], end }),
    () => ({ kind: 'stall', chunks: [], end: 'stay' }),
    () => ({ kind: 'early close', chunks: [], end: rng.chance(0.5) ? 'close' : 'reset' }),
    () => ({ kind: 'mutated', chunks: [mutated()], end }),
    () => ({ kind: 'dribbled', chunks: dribble(mutated(), rng), end }),
    () => ({ kind: 'doubled', chunks: [seed, seed], end }),
    () => ({ kind: 'intact', chunks: [seed], end }),
  ];
  return rng.pick(kinds)();
}

/** A Get through `client`, answered by the next hostile answer: KmipError is its own. */
export function kmipClientTarget(
  client: KmipClient,
  server: HostileKmipServer,
  responses: readonly Buffer[],
): FuzzTarget<HostileAnswer> {
  return {
    generate: (rng) => hostileAnswer(rng, responses),
    async run(answer): Promise<'accepted'> {
      server.answers.length = 0;
      server.answers.push(answer);
      const got = await client.get('1');
      got.material.fill(0);
      return 'accepted';
    },
    isOwnError: (err) => err instanceof KmipError,
    describe: (a) =>
      `${a.kind}, then ${a.end}: ${Buffer.concat(a.chunks).subarray(0, 48).toString('hex')}…`,
  };
}
