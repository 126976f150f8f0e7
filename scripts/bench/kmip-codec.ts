// KMIP TTLV codec throughput over the shared message mix (../shared/kmip-messages,
// index.json `mix`), beside PyKMIP's own codec on the same bytes, plus the start-up of
// `ekmctl kmip decode` on one small message.
// Goals: decode ≥ 200 MB/s; decode and encode ≥ 50× PyKMIP; start-up < 100 ms.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTtlv, encodeTtlv, type TtlvItem } from '../../src/kmip/ttlv';

const root = join(__dirname, '..', '..', '..');
const messagesDir = join(root, '..', 'shared', 'kmip-messages');
const ekmctl = join(root, 'dist', 'src', 'cli', 'main.js');
const python = '/usr/bin/python3';
const SECONDS = 1.5;

interface IndexEntry {
  file: string;
  mix: boolean;
}

/** Runs `fn` (one pass over `bytes` bytes) repeatedly for SECONDS; best of 3 runs, MB/s. */
function throughput(bytes: number, fn: () => void): number {
  let best = 0;
  for (let run = 0; run < 3; run++) {
    let rounds = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    do {
      for (let i = 0; i < 100; i++) fn();
      rounds += 100;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    } while (elapsed < SECONDS / 3);
    best = Math.max(best, (rounds * bytes) / elapsed / 1e6);
  }
  return best;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall time of whole `ekmctl kmip decode` processes, median of n, in ms. */
function startup(input: Buffer, env: NodeJS.ProcessEnv, n = 15): number {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [ekmctl, 'kmip', 'decode'], { input, env });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (r.status !== 0) throw new Error(`ekmctl kmip decode failed: ${r.stderr}`);
  }
  return median(times);
}

function main(): void {
  if (!existsSync(join(messagesDir, 'index.json'))) {
    console.log(`skipped: ${messagesDir} not found`);
    return;
  }
  const index = JSON.parse(readFileSync(join(messagesDir, 'index.json'), 'utf8')) as {
    messages: IndexEntry[];
  };
  const files = index.messages.filter((m) => m.mix).map((m) => join(messagesDir, m.file));
  const wires = files.map((f) => readFileSync(f));
  const bytes = wires.reduce((n, w) => n + w.length, 0);
  const trees: TtlvItem[] = wires.map((w) => decodeTtlv(w));
  let sink = 0;

  const decode = throughput(bytes, () => {
    for (const w of wires) sink += decodeTtlv(w).tag;
  });
  const encode = throughput(bytes, () => {
    for (const tree of trees) sink += encodeTtlv(tree).length;
  });

  console.log(`mix: ${files.length} messages, ${bytes} bytes (index.json mix)`);
  console.log(`ekmd decode  ${decode.toFixed(0).padStart(6)} MB/s   (goal >= 200 MB/s)`);
  console.log(`ekmd encode  ${encode.toFixed(0).padStart(6)} MB/s`);

  const py = spawnSync(python, [join(root, 'scripts', 'pykmip-codec.py'), 'bench', '2', ...files], {
    encoding: 'utf8',
  });
  if (py.status === 0) {
    const p = JSON.parse(py.stdout) as { decodeMBps: number; encodeMBps: number };
    console.log(
      `PyKMIP decode ${p.decodeMBps.toFixed(2).padStart(5)} MB/s -> ekmd is ${(decode / p.decodeMBps).toFixed(0)}x (goal >= 50x)`,
    );
    console.log(
      `PyKMIP encode ${p.encodeMBps.toFixed(2).padStart(5)} MB/s -> ekmd is ${(encode / p.encodeMBps).toFixed(0)}x (goal >= 50x)`,
    );
  } else {
    console.log(`PyKMIP codec not measured: ${py.stderr.trim() || 'python3-pykmip missing'}`);
  }

  const small = readFileSync(join(messagesDir, 'get-secret-data.req.ttlv'));
  const withCa = startup(small, process.env);
  const { NODE_EXTRA_CA_CERTS: _ca, ...bare } = process.env;
  const without = startup(small, bare);
  const caNote = process.env.NODE_EXTRA_CA_CERTS
    ? 'with NODE_EXTRA_CA_CERTS'
    : 'no NODE_EXTRA_CA_CERTS set';
  console.log(
    `ekmctl kmip decode start-up, ${small.length}-byte message, median of 15 (goal < 100 ms):`,
  );
  console.log(
    `  ${withCa.toFixed(0)} ms (${caNote}); ${without.toFixed(0)} ms with NODE_EXTRA_CA_CERTS unset`,
  );
  if (sink === 0) console.log('');
}

main();
