// KMIP TTLV codec throughput over the shared message mix (../shared/kmip-messages,
// index.json `mix`), beside PyKMIP's own codec on the same bytes, plus the start-up of
// `ekmctl kmip decode` on one small message.
// Goals: decode ≥ 200 MB/s; decode and encode ≥ 50× PyKMIP; start-up < 100 ms.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
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

interface Rate {
  /** MB per second of wall time. */
  wall: number;
  /** MB per second of this process's CPU time: what a busy shared host cannot blur. */
  cpu: number;
}

/** Runs `fn` (one pass over `bytes` bytes) repeatedly for SECONDS; best of 3 runs. */
function throughput(bytes: number, fn: () => void): Rate {
  const best: Rate = { wall: 0, cpu: 0 };
  for (let run = 0; run < 3; run++) {
    let rounds = 0;
    const start = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    let elapsed = 0;
    do {
      for (let i = 0; i < 100; i++) fn();
      rounds += 100;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    } while (elapsed < SECONDS / 3);
    const cpu = process.cpuUsage(cpu0);
    best.wall = Math.max(best.wall, (rounds * bytes) / elapsed / 1e6);
    best.cpu = Math.max(best.cpu, (rounds * bytes) / ((cpu.user + cpu.system) / 1e6) / 1e6);
  }
  return best;
}

const fmt = (r: Rate) =>
  `${r.wall.toFixed(0).padStart(5)} MB/s wall, ${r.cpu.toFixed(0).padStart(5)} MB/s CPU`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const timeBin = '/usr/bin/time';

/**
 * Whole `ekmctl kmip decode` processes, median of n: wall ms, and the child's CPU ms
 * (user + system, via /usr/bin/time when present).
 */
function startup(input: Buffer, env: NodeJS.ProcessEnv, n = 15): { wall: number; cpu?: number } {
  const walls: number[] = [];
  const cpus: number[] = [];
  const withTime = existsSync(timeBin);
  for (let i = 0; i < n; i++) {
    const argv = [process.execPath, ekmctl, 'kmip', 'decode'];
    const start = process.hrtime.bigint();
    const r = withTime
      ? spawnSync(timeBin, ['-f', '%U %S', ...argv], { input, env, encoding: 'buffer' })
      : spawnSync(argv[0]!, argv.slice(1), { input, env });
    walls.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (r.status !== 0) throw new Error(`ekmctl kmip decode failed: ${r.stderr}`);
    if (withTime) {
      const [user, sys] = r.stderr.toString().trim().split('\n').pop()!.split(' ').map(Number);
      cpus.push((user! + sys!) * 1000);
    }
  }
  return { wall: median(walls), cpu: withTime ? median(cpus) : undefined };
}

function startupLine(r: { wall: number; cpu?: number }, what: string): string {
  const cpu = r.cpu === undefined ? '' : `, ${r.cpu.toFixed(0)} ms CPU`;
  return `  ${r.wall.toFixed(0)} ms wall${cpu} (${what})`;
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

  console.log(
    `mix: ${files.length} messages, ${bytes} bytes (index.json mix); load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs`,
  );
  console.log(`ekmd decode   ${fmt(decode)}   (goal >= 200 MB/s)`);
  console.log(`ekmd encode   ${fmt(encode)}`);

  const py = spawnSync(python, [join(root, 'scripts', 'pykmip-codec.py'), 'bench', '2', ...files], {
    encoding: 'utf8',
  });
  if (py.status === 0) {
    const p = JSON.parse(py.stdout) as Record<'decode' | 'encode', Rate>;
    for (const way of ['decode', 'encode'] as const) {
      const ours = way === 'decode' ? decode : encode;
      const x = (k: keyof Rate) => (ours[k] / p[way][k]).toFixed(0);
      console.log(
        `PyKMIP ${way} ${p[way].wall.toFixed(2)} MB/s wall, ${p[way].cpu.toFixed(2)} MB/s CPU` +
          ` -> ekmd is ${x('wall')}x wall, ${x('cpu')}x CPU (goal >= 50x)`,
      );
    }
  } else {
    console.log(`PyKMIP codec not measured: ${py.stderr.trim() || 'python3-pykmip missing'}`);
  }

  const small = readFileSync(join(messagesDir, 'get-secret-data.req.ttlv'));
  const { NODE_EXTRA_CA_CERTS: extraCa, ...bare } = process.env;
  console.log(
    `ekmctl kmip decode start-up, ${small.length}-byte message, median of 15 (goal < 100 ms):`,
  );
  if (extraCa) console.log(startupLine(startup(small, process.env), 'NODE_EXTRA_CA_CERTS set'));
  console.log(startupLine(startup(small, bare), 'NODE_EXTRA_CA_CERTS unset'));
  // Keeps the decoded and encoded results observable so none of the work is optimised away.
  if (sink === 0) console.log('');
}

main();
