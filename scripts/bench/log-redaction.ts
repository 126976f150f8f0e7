// What redacting ekmd's log lines costs: every logged object is walked (src/daemon/log.ts)
// for secret-shaped names, Buffers and PEM private keys. Measured against the same pino
// with no redaction and with the path-based redaction it replaced (30 names at depths
// 0..3), on typical lines given to a stream that drops them: the API call line, a drive line with a
// nested object, and a child logger's line with no object.
// Goal: the walk adds < 2 µs to a typical line (a write(2) of the line costs ~15 µs).
import pino, { type DestinationStream, type Logger } from 'pino';
import { createLogger, SECRET_FIELDS } from '../../src/daemon/log';

const LINES = 100_000;
const ROUNDS = 7;
const GOAL_ADDED_US = 2;

function pathRedaction(): string[] {
  const paths: string[] = [];
  for (let depth = 0; depth < 4; depth++) {
    for (const field of SECRET_FIELDS) paths.push('*.'.repeat(depth) + field);
  }
  return paths;
}

/** A stream that drops the line: the figures are the formatting's CPU, not a write(2). */
const sink = (): DestinationStream => ({ write: () => undefined });
const loggers: Record<string, Logger> = {
  none: pino({ name: 'ekmd', level: 'debug' }, sink()),
  paths: pino(
    { name: 'ekmd', level: 'debug', redact: { paths: pathRedaction(), censor: '[redacted]' } },
    sink(),
  ),
  walk: createLogger('debug', sink()),
};

const lines: Record<string, (log: Logger, i: number) => void> = {
  'API call': (log, i) => log.debug({ method: 'ListDrives', id: i, ms: 1.25 }, 'API call'),
  'drive state': (log, i) =>
    log.info(
      { drive: { driveID: i, serial: 'SN0001', state: 'unlocked', keyID: 'k-1' }, ms: 3 },
      'drive unlocked',
    ),
  'message only': (log) => log.info('key servers reachable'),
};

function nsPerLine(log: Logger, line: (log: Logger, i: number) => void): number {
  const child = log.child({ component: 'api' });
  const start = process.hrtime.bigint();
  for (let i = 0; i < LINES; i++) line(child, i);
  return Number(process.hrtime.bigint() - start) / LINES;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let worstAddedUs = 0;
for (const [name, line] of Object.entries(lines)) {
  const samples: Record<string, number[]> = { none: [], paths: [], walk: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [kind, log] of Object.entries(loggers)) samples[kind].push(nsPerLine(log, line));
  }
  const [none, paths, walk] = ['none', 'paths', 'walk'].map((k) => median(samples[k]) / 1000);
  worstAddedUs = Math.max(worstAddedUs, walk - none);
  console.log(
    `${name.padEnd(13)} no redaction ${none.toFixed(2)} µs/line, path redaction ` +
      `${paths.toFixed(2)} µs, walk ${walk.toFixed(2)} µs (+${(walk - none).toFixed(2)} µs)`,
  );
}
const ok = worstAddedUs < GOAL_ADDED_US;
console.log(
  `walk adds at most ${worstAddedUs.toFixed(2)} µs/line; goal < ${GOAL_ADDED_US} µs: ${ok ? 'met' : 'MISSED'}`,
);
process.exitCode = ok ? 0 : 1;
