// Fetch 24 Secret Data objects (one node's drive keys) from PyKMIP, same run, same server:
//   ekmd       KmipClient.getMany: one batched Get message over one open connection
//   minimal    hand-written TTLV bytes over a raw tls socket: the same single exchange
//   pykmip     PyKMIP's ProxyKmipClient: 24 Gets over one open connection
// and ekmd against the dev key server. Goal: ekmd >= 2x faster than PyKMIP's client and
// within 1.1x of the minimal script.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { KmipClient } from '../../src/kmip/client';
import { makeDevPki, type DevPki } from '../pki/dev-pki';
import { startPykmip } from '../pykmip/pykmip-server';

const OBJECTS = 24;
const ROUNDS = 12;
const WARMUP = 3;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function clientFor(pki: DevPki, port: number): KmipClient {
  return new KmipClient({
    hostnames: ['127.0.0.1'],
    port,
    ca: readFileSync(pki.ca, 'utf8'),
    cert: readFileSync(pki.client.cert, 'utf8'),
    key: readFileSync(pki.client.key, 'utf8'),
  });
}

async function fetchEkmd(client: KmipClient, uids: string[]): Promise<number> {
  const t0 = performance.now();
  const { results } = await client.getMany(uids);
  const ms = performance.now() - t0;
  for (const r of results) {
    if (!r.ok) throw r.error;
    r.value.material.fill(0);
  }
  return ms;
}

// --- the minimal script: TTLV written by hand -----------------------------------------
function item(tag: number, type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUIntBE(tag, 0, 3);
  head[3] = type;
  head.writeUInt32BE(value.length, 4);
  const pad = Buffer.alloc((8 - (value.length % 8)) % 8);
  return Buffer.concat([head, value, pad]);
}
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const S = (tag: number, ...kids: Buffer[]): Buffer => item(tag, 1, Buffer.concat(kids));
const I = (tag: number, n: number): Buffer => item(tag, 2, u32(n));
const E = (tag: number, n: number): Buffer => item(tag, 5, u32(n));

function minimalRequest(uids: string[]): Buffer {
  return S(
    0x420078,
    S(
      0x420077,
      S(0x420069, I(0x42006a, 1), I(0x42006b, 4)),
      E(0x42000e, 1), // Batch Error Continuation: Continue
      I(0x42000d, uids.length),
    ),
    ...uids.map((uid, i) =>
      S(
        0x42000f,
        E(0x42005c, 0x0a),
        item(0x420093, 8, u32(i + 1)),
        S(0x420079, item(0x420094, 7, Buffer.from(uid))),
      ),
    ),
  );
}

function exchange(sock: TLSSocket, req: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      have += c.length;
      if (have >= 8) {
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (have >= all.readUInt32BE(4) + 8) {
          sock.off('data', onData);
          resolve(all);
        }
      }
    };
    sock.on('data', onData);
    sock.write(req);
  });
}

function minimalSocket(pki: DevPki, port: number): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.client.cert),
      key: readFileSync(pki.client.key),
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

async function fetchMinimal(sock: TLSSocket, uids: string[]): Promise<number> {
  const t0 = performance.now();
  const res = await exchange(sock, minimalRequest(uids));
  const ms = performance.now() - t0;
  if (res.readUInt32BE(0) >>> 8 !== 0x42007b) throw new Error('not a response');
  return ms;
}

/** ekmd and the minimal script alternately, round by round, so drift hits both alike. */
async function sideBySide(
  client: KmipClient,
  pki: DevPki,
  port: number,
  uids: string[],
): Promise<{ ekmd: number[]; minimal: number[] }> {
  const sock = await minimalSocket(pki, port);
  const ekmd: number[] = [];
  const minimal: number[] = [];
  try {
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const e = await fetchEkmd(client, uids);
      const m = await fetchMinimal(sock, uids);
      if (i >= WARMUP) {
        ekmd.push(e);
        minimal.push(m);
      }
    }
  } finally {
    sock.destroy();
  }
  return { ekmd, minimal };
}

function timePykmip(pki: DevPki, port: number, uids: string[]): number[] {
  const script = join(__dirname, '..', '..', '..', 'scripts', 'pykmip', 'bench_get.py');
  const r = spawnSync(
    '/usr/bin/python3',
    [script, String(port), pki.ca, pki.client.cert, pki.client.key, String(ROUNDS), ...uids],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`PyKMIP client failed: ${r.stderr.slice(-500)}`);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number[] }).ms;
}

async function register(client: KmipClient): Promise<string[]> {
  const uids: string[] = [];
  for (let i = 0; i < OBJECTS; i++) {
    const ak = randomBytes(32);
    uids.push(await client.registerSecretData(ak, { names: [`bench-ak-${i}`] }));
    ak.fill(0);
  }
  return uids;
}

async function startDevServer(pki: DevPki, dir: string): Promise<{ port: number; stop(): void }> {
  const cli = join(__dirname, '..', '..', 'src', 'cli', 'main.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      'kmip',
      'dev-server',
      '--state',
      dir,
      '--listen',
      '127.0.0.1:0',
      '--ca',
      pki.ca,
      '--cert',
      pki.server.cert,
      '--key',
      pki.server.key,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec((out += d.toString()));
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error('dev-server exited')));
  });
  return { port, stop: () => child.kill('SIGKILL') };
}

const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-kmip-'));
  const pki = await makeDevPki(join(dir, 'pki'));
  const pykmip = await startPykmip({ dir: join(dir, 'pykmip'), pki });
  try {
    const client = clientFor(pki, pykmip.port);
    const uids = await register(client);
    // Two passes of all three, so drift on a shared machine hits them alike.
    const ekmd: number[] = [];
    const minimal: number[] = [];
    let py: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      const side = await sideBySide(client, pki, pykmip.port, uids);
      ekmd.push(...side.ekmd);
      minimal.push(...side.minimal);
      py = py.concat(timePykmip(pki, pykmip.port, uids));
    }
    client.close();
    const e = median(ekmd);
    const m = median(minimal);
    const p = median(py);
    console.log(
      `fetch ${OBJECTS} Secret Data objects from PyKMIP 0.10 (median of ${ekmd.length}):`,
    );
    console.log(`  ekmd KmipClient, one batched Get     ${fmt(e)}`);
    console.log(`  minimal hand-written TTLV, one batch ${fmt(m)}`);
    console.log(`  PyKMIP ProxyKmipClient, ${OBJECTS} Gets     ${fmt(p)}`);
    console.log(
      `  ekmd vs PyKMIP client: ${(p / e).toFixed(2)}x faster (goal >= 2x) ${p / e >= 2 ? 'MET' : 'MISSED'}`,
    );
    console.log(
      `  ekmd vs minimal:       ${(e / m).toFixed(3)}x (goal <= 1.1x) ${e / m <= 1.1 ? 'MET' : 'MISSED'}`,
    );

    const dev = await startDevServer(pki, join(dir, 'dev'));
    try {
      const dc = clientFor(pki, dev.port);
      const devUids = await register(dc);
      const side = await sideBySide(dc, pki, dev.port, devUids);
      const d = median(side.ekmd);
      const dm = median(side.minimal);
      dc.close();
      console.log(`fetch ${OBJECTS} Secret Data objects from the dev key server:`);
      console.log(
        `  ekmd KmipClient ${fmt(d)}; minimal script ${fmt(dm)} (${(d / dm).toFixed(3)}x)`,
      );
    } finally {
      dev.stop();
    }
  } finally {
    await pykmip.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
