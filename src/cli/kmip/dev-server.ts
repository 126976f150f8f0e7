// `ekmctl kmip dev-server`: the development KMIP server, and `… inject` to make a running
// one misbehave through its control socket.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../../util/command';
import { DevKmipServer, listenControl, parseFault, sendControl } from '../../kmip/server';

const USAGE = `Usage: ekmctl kmip dev-server --state DIR --listen HOST:PORT --ca F --cert F --key F [--control SOCKET]
       ekmctl kmip dev-server inject --control SOCKET refuse|stall|delay MS|drop|reason NAME|garbage|clear

A DEVELOPMENT key server: KMIP over mutual TLS for tests and demos. Not for production:
key material is kept UNSEALED in DIR/objects.json (mode 0600).

  --state DIR       where objects are kept across restarts
  --listen H:P      address to listen on; port 0 picks a free one (printed when ready)
  --ca F            CA that client certificates must chain to (repeatable)
  --cert F --key F  the server's certificate and key
  --control SOCKET  Unix socket accepting inject commands
  --log-level L     pino level on stderr (default warn)

Faults (inject): refuse new connections; stall (accept, never answer); delay MS before each
answer; drop the open connections now; reason NAME fails every operation with that Result
Reason (e.g. ItemNotFound); garbage answers with non-TTLV bytes; clear restores normal service.
`;

function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`bad --listen ${s} (HOST:PORT, [V6]:PORT)`);
  return { host: (m[1] ?? m[2])!, port };
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

async function inject(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { control: { type: 'string' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const socket = parsed.values.control;
  if (!socket) throw new UsageError('inject needs --control SOCKET');
  try {
    parseFault(parsed.positionals);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const reply = await sendControl(socket, parsed.positionals).catch(
    (err: NodeJS.ErrnoException) => {
      return `error: cannot reach ${socket}: ${err.code ?? err.message}`;
    },
  );
  if (reply.startsWith('ok')) {
    process.stdout.write(`${reply}\n`);
    return EXIT_OK;
  }
  process.stderr.write(`ekmctl kmip dev-server inject: ${reply}\n`);
  return EXIT_FAILURE;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'inject') return inject(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        state: { type: 'string' },
        listen: { type: 'string' },
        ca: { type: 'string', multiple: true },
        cert: { type: 'string' },
        key: { type: 'string' },
        control: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (!v.state || !v.listen || !v.ca?.length || !v.cert || !v.key) {
    throw new UsageError('--state, --listen, --ca, --cert and --key are required');
  }
  const { host, port } = parseListen(v.listen);
  const logger = pino({ level: v['log-level'] ?? 'warn' }, pino.destination(2));
  const server = await DevKmipServer.start({
    stateDir: v.state,
    host,
    port,
    ca: v.ca.map(read),
    cert: read(v.cert),
    key: read(v.key),
    logger,
  });
  const control = v.control ? await listenControl(v.control, server) : undefined;
  const addr = server.address;
  const shown =
    addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
  process.stdout.write(`ekmctl kmip dev-server: listening on ${shown} (development only)\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  control?.close();
  await server.close();
  return EXIT_OK;
}
