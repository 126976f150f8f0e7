// `ekmctl kmip probe`: connect to a key server, negotiate, Discover Versions + Query, and
// print what it speaks, the TLS parameters and round-trip times.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../../util/command';
import {
  KmipClient,
  KmipError,
  formatVersion,
  ops,
  parseVersion,
  type KmipServerOptions,
} from '../../kmip/client';
import { Tag, enumName } from '../../kmip/ttlv';

export const TLS_USAGE = [
  '  --host H         key server name or address (repeat for several; tried in order)',
  '  --port N         default 5696',
  '  --ca FILE        CA certificate(s) the server must chain to (repeatable)',
  '  --cert FILE      client certificate (PEM)',
  '  --key FILE       client private key (PEM)',
  '  --kmip-version V pin a version (e.g. 1.4) instead of negotiating',
  '  --timeout MS     connect and request timeout, default 5000',
  '  --json           machine-readable output',
];

const tlsFlags = {
  host: { type: 'string', multiple: true },
  port: { type: 'string' },
  ca: { type: 'string', multiple: true },
  cert: { type: 'string' },
  key: { type: 'string' },
  'kmip-version': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** Parse the TLS flags shared by probe and get; positional arguments are returned. */
export function parseClientFlags(argv: string[]): {
  options: KmipServerOptions;
  json: boolean;
  help: boolean;
  positionals: string[];
} {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: tlsFlags, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return { options: {} as KmipServerOptions, json: false, help: true, positionals: [] };
  if (!v.host?.length) throw new UsageError('--host is required');
  if (!v.ca?.length || !v.cert || !v.key)
    throw new UsageError('--ca, --cert and --key are required');
  const port = v.port === undefined ? 5696 : Number(v.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`bad --port ${v.port}`);
  const timeout = v.timeout === undefined ? 5000 : Number(v.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`bad --timeout ${v.timeout}`);
  const options: KmipServerOptions = {
    hostnames: v.host,
    port,
    ca: v.ca.map((f) => readPem(f, 'CA file')),
    cert: readPem(v.cert, 'certificate'),
    key: readPem(v.key, 'key'),
    connectTimeoutMs: timeout,
    requestTimeoutMs: timeout,
  };
  if (v['kmip-version'] !== undefined) {
    const pinned = parseVersion(v['kmip-version']);
    if (!pinned) throw new UsageError(`bad --kmip-version ${v['kmip-version']} (e.g. 1.4)`);
    options.version = pinned;
  }
  return { options, json: v.json ?? false, help: false, positionals: parsed.positionals };
}

/** Print a KmipError the same way for every kmip command; returns the exit code. */
export function reportError(err: unknown, json: boolean): number {
  if (!(err instanceof KmipError)) throw err;
  if (json) {
    const { stage, endpoint, resultReason, code } = err;
    process.stdout.write(
      `${JSON.stringify({ error: { stage, endpoint, resultReason, code, message: err.message } })}\n`,
    );
  } else process.stderr.write(`ekmctl kmip: ${err.message}\n`);
  return EXIT_FAILURE;
}

const name = (tag: number, v: number): string => enumName(tag, v) ?? `0x${v.toString(16)}`;

export async function run(argv: string[]): Promise<number> {
  const { options, json, help } = parseClientFlags(argv);
  if (help) {
    process.stdout.write(
      [
        'Usage: ekmctl kmip probe --host H [--port 5696] --ca F --cert F --key F [--json]',
        ...TLS_USAGE,
        '',
      ].join('\n'),
    );
    return EXIT_OK;
  }
  const client = new KmipClient(options);
  try {
    const started = performance.now();
    const { endpoint, version, tls } = await client.connect();
    const connectMs = performance.now() - started;
    const t0 = performance.now();
    const { results } = await client.batch([ops.discoverVersions([]), ops.query()] as const);
    const rttMs = performance.now() - t0;
    const [dv, q] = results;
    if (!q.ok) throw q.error;
    const report = {
      endpoint,
      tls: { protocol: tls.protocol, cipher: tls.cipher },
      version: formatVersion(version),
      serverVersions: dv.ok ? dv.value.map(formatVersion) : [],
      vendor: q.value.vendorIdentification ?? null,
      operations: q.value.operations.map((o) => name(Tag.Operation, o)),
      objectTypes: q.value.objectTypes.map((o) => name(Tag.ObjectType, o)),
      connectMs: Math.round(connectMs * 10) / 10,
      roundTripMs: Math.round(rttMs * 100) / 100,
    };
    if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const rows: [string, string][] = [
        ['endpoint', report.endpoint],
        ['tls', `${report.tls.protocol} ${report.tls.cipher}`],
        [
          'version',
          `${report.version} (server speaks ${report.serverVersions.join(', ') || 'unknown'})`,
        ],
        ['vendor', report.vendor ?? '(not given)'],
        ['operations', report.operations.join(', ')],
        ['object types', report.objectTypes.join(', ') || '(not listed)'],
        ['connect', `${report.connectMs} ms (DNS, TCP, TLS, Discover Versions)`],
        ['round trip', `${report.roundTripMs} ms (Discover Versions + Query, one message)`],
      ];
      for (const [k, v] of rows) process.stdout.write(`${k.padEnd(13)} ${v}\n`);
    }
    return EXIT_OK;
  } catch (err) {
    return reportError(err, json);
  } finally {
    client.close();
  }
}
