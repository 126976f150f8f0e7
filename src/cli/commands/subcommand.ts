// The shape every API subcommand shares: its flags (plus the connection flags), its
// positional arguments, its --help, and one error convention — an Element error prints
// as `xName: message` and exits 1, bad flags exit 2.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from '../../util/command';
import { ApiClient, ElementApiError } from '../client/client';
import { PINS_FILE, configDir } from '../client/config-dir';
import { resolveConnection } from '../client/credentials';
import { PinStore } from '../client/pins';
import { canPrompt, promptYesNo } from '../client/prompt';
import { stateDirOf } from '../client/state-dir';
import { CHECK_ON_NODE, localFingerprint, type TrustSources } from '../client/trust';

export interface FlagSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** e.g. '--name NAME   display name' */
  help: string;
}

export interface Subcommand {
  summary: string;
  /** Positional arguments; a trailing '...' takes one or more. */
  args?: string[];
  flags?: Record<string, FlagSpec>;
  /** More lines for --help after the summary. */
  details?: string[];
  /** Commands that talk to nobody (store backup) leave the connection flags out. */
  offline?: boolean;
  run(ctx: Context): Promise<number>;
}

export interface Context {
  args: string[];
  json: boolean;
  string(name: string): string | undefined;
  strings(name: string): string[];
  bool(name: string): boolean;
  /** The API client, made on first use (credentials are resolved only then). */
  api(): ApiClient;
  out(text: string): void;
  /** Progress and notes: stderr, so that stdout stays clean for --json. */
  note(text: string): void;
}

const CONNECTION_FLAGS: Record<string, FlagSpec> = {
  url: { type: 'string', help: '--url URL            ekmd API (default https://127.0.0.1:8443)' },
  username: { type: 'string', help: '--username NAME      API user' },
  'password-file': { type: 'string', help: '--password-file FILE read the password from FILE' },
  ca: {
    type: 'string',
    help: '--ca FILE            verify ekmd against this CA instead of pinning',
  },
  fingerprint: {
    type: 'string',
    help: "--fingerprint SHA256 trust ekmd's certificate if it has this SHA-256 (and pin it)",
  },
  json: { type: 'boolean', help: '--json               machine-readable output' },
};

export const CONNECTION_HELP = Object.values(CONNECTION_FLAGS).map((f) => `  ${f.help}`);

/** Runs `ekmctl <group> <name> …` from a table of subcommands. */
export async function runGroup(
  group: string,
  description: string,
  table: Record<string, Subcommand>,
  argv: string[],
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(groupHelp(group, description, table));
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const sub = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  if (!sub) throw new UsageError(`unknown subcommand '${name}' (see 'ekmctl ${group} --help')`);
  return runSubcommand(`${group} ${name}`, sub, rest);
}

export async function runSubcommand(
  prog: string,
  sub: Subcommand,
  argv: string[],
): Promise<number> {
  const specs = { ...sub.flags, ...(sub.offline ? {} : CONNECTION_FLAGS) };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(
          Object.entries(specs).map(([k, s]) => [k, { type: s.type, multiple: !!s.multiple }]),
        ),
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<
    string,
    string | boolean | (string | boolean)[] | undefined
  >;
  if (values.help) {
    process.stdout.write(subcommandHelp(prog, sub));
    return EXIT_OK;
  }
  checkArgs(sub.args ?? [], parsed.positionals);
  let client: ApiClient | undefined;
  const ctx: Context = {
    args: parsed.positionals,
    json: values.json === true,
    string: (n) => values[n] as string | undefined,
    strings: (n) => (values[n] as string[] | undefined) ?? [],
    bool: (n) => values[n] === true,
    api: () => (client ??= makeClient(values)),
    out: (text) => process.stdout.write(text),
    note: (text) => process.stderr.write(`${text}\n`),
  };
  try {
    return await sub.run(ctx);
  } catch (err) {
    if (err instanceof ElementApiError) {
      process.stderr.write(`${err.elementName}: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    if (err instanceof UsageError) throw err;
    process.stderr.write(`ekmctl ${prog}: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

function makeClient(values: Record<string, unknown>): ApiClient {
  const conn = resolveConnection({
    url: values.url as string | undefined,
    username: values.username as string | undefined,
    passwordFile: values['password-file'] as string | undefined,
    ca: values.ca as string | undefined,
    fingerprint: values.fingerprint as string | undefined,
  });
  return new ApiClient(conn, trustSources(conn.fingerprint));
}

/** How ekmctl decides about a certificate no --ca verifies (client/trust.ts). */
export function trustSources(expected?: string): TrustSources {
  const pins = new PinStore(join(configDir(), PINS_FILE));
  const local = localFingerprint(stateDirOf(undefined));
  return {
    pins,
    ...(expected === undefined ? {} : { expected }),
    ...(local === undefined ? {} : { local }),
    ...(canPrompt()
      ? {
          ask: (endpoint: string, fingerprint: string) => {
            process.stderr.write(
              `ekmd at ${endpoint} presents a certificate not seen before:\n` +
                `  SHA-256 ${fingerprint}\n` +
                `Compare it with ${CHECK_ON_NODE}.\n`,
            );
            return promptYesNo('Trust it and send the credentials? [y/N] ');
          },
        }
      : {}),
    onPinned: (endpoint, fingerprint) =>
      process.stderr.write(
        `ekmctl: pinned the certificate of ekmd at ${endpoint} (SHA-256 ${fingerprint}) ` +
          `in ${pins.file}\n`,
      ),
  };
}

function checkArgs(names: string[], given: string[]): void {
  const variadic = names.length > 0 && names[names.length - 1].endsWith('...');
  const min = names.length;
  if (given.length < min) throw new UsageError(`missing ${names.slice(given.length).join(' ')}`);
  if (!variadic && given.length > names.length) {
    throw new UsageError(`unexpected argument '${given[names.length]}'`);
  }
}

/** A positive integer ID from the command line. */
export function idArg(text: string | undefined, what: string): number {
  if (
    text === undefined ||
    !/^[1-9][0-9]{0,15}$/.test(text) ||
    !Number.isSafeInteger(Number(text))
  ) {
    throw new UsageError(`bad ${what} '${text ?? ''}' (a positive integer)`);
  }
  return Number(text);
}

export function requireFlag(ctx: Context, name: string): string {
  const v = ctx.string(name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

function usageLine(prog: string, sub: Subcommand): string {
  const args = (sub.args ?? []).map((a) => ` ${a}`).join('');
  return `Usage: ekmctl ${prog}${args} [options]`;
}

function subcommandHelp(prog: string, sub: Subcommand): string {
  const own = Object.values(sub.flags ?? {}).map((f) => `  ${f.help}`);
  return [
    usageLine(prog, sub),
    '',
    sub.summary,
    ...(sub.details ? ['', ...sub.details] : []),
    ...(own.length ? ['', 'Options:', ...own] : []),
    ...(sub.offline ? [] : ['', 'Connection options:', ...CONNECTION_HELP]),
    '',
    "Exit codes: 0 success, 1 failure (API errors print as 'xName: message'), 2 usage error.",
    '',
  ].join('\n');
}

function groupHelp(group: string, description: string, table: Record<string, Subcommand>): string {
  const width = Math.max(...Object.keys(table).map((n) => n.length));
  return [
    `Usage: ekmctl ${group} <subcommand> [options]`,
    '',
    description,
    '',
    'Subcommands:',
    ...Object.entries(table).map(([n, s]) => `  ${n.padEnd(width)}  ${s.summary}`),
    '',
    `Run 'ekmctl ${group} <subcommand> --help' for its options.`,
    '',
  ].join('\n');
}
