// The shared frame of every `ekmctl opal` subcommand: flags, drive selection (--device or
// --sim/--drive), PIN files, --json output, typed errors to exit codes. Each command makes
// exactly one attempt: a drive status is printed, never retried.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OpalUser, OPAL_MAX_LRS } from '../../opal/abi';
import { OpalDrive } from '../../opal/drive';
import { LibcTransport } from '../../opal/libc-transport';
import type * as SimClient from '../../opal/sim-socket/transport';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CommandModule } from '../../util/command';
import { readPin } from './pin-source';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

export interface OpalCommandContext {
  drive: OpalDrive;
  values: Values;
  /** From --pin-file, when the command takes one. */
  pin: Buffer;
  /** From --new-pin-file, when the command takes one. */
  newPin: Buffer;
}

export interface OpalCommandSpec {
  /** e.g. 'unlock' */
  name: string;
  /** Options after the common ones, e.g. '--pin-file PATH [--range N]'. */
  synopsis: string;
  /** Extra lines of help. */
  help: string[];
  options?: Options;
  pin?: 'required';
  /**
   * Another source of the --pin-file PIN, used instead when its flag is given (the AK at a
   * key server, for break-glass unlock). The Buffer it returns is zeroed after the command.
   */
  pinFrom?: { flag: string; fetch(values: Values, target: DriveTarget): Promise<Buffer> };
  newPin?: 'required';
  /** Returns the JSON result; `text` renders it for humans. */
  run(ctx: OpalCommandContext): Promise<Record<string, unknown>>;
  text(result: Record<string, unknown>): string;
}

const COMMON: Options = {
  device: { type: 'string' },
  sim: { type: 'string' },
  drive: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const PIN_OPTIONS: Options = {
  'pin-file': { type: 'string' },
  'new-pin-file': { type: 'string' },
};

function usage(spec: OpalCommandSpec): string {
  return [
    `Usage: ekmctl opal ${spec.name} (--device PATH | --sim SOCKET --drive N) ${spec.synopsis} [--json]`,
    '',
    ...spec.help,
    '',
    'PIN files hold the raw PIN bytes (no newline is stripped); "-" reads stdin.',
    'Exit codes: 0 success, 1 drive or kernel error, 2 usage error.',
    '',
  ].join('\n');
}

/** --user admin1|user1..user9 (or 0..9) to an OpalUser value. */
export function parseUser(flag: string, value: string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const m = /^(?:admin1|user([1-9])|([0-9]))$/i.exec(value);
  if (!m) throw new UsageError(`${flag} must be admin1 or user1..user9, got '${value}'`);
  if (m[1]) return Number(m[1]);
  if (m[2]) return Number(m[2]);
  return OpalUser.ADMIN1;
}

export function parseRange(value: string | undefined, dflt = 0): number {
  if (value === undefined) return dflt;
  if (!/^[0-9]$/.test(value) || Number(value) >= OPAL_MAX_LRS)
    throw new UsageError(`--range must be 0..${OPAL_MAX_LRS - 1}, got '${value}'`);
  return Number(value);
}

export function parseLba(flag: string, value: string | undefined): bigint {
  if (value === undefined || !/^[0-9]{1,20}$/.test(value) || BigInt(value) >= 1n << 64n)
    throw new UsageError(`${flag} must be a block count, got '${value ?? ''}'`);
  return BigInt(value);
}

export function parseMode(flag: string, value: string | undefined): 'rw' | 'ro' {
  if (value === undefined || value === 'rw') return 'rw';
  if (value === 'ro') return 'ro';
  throw new UsageError(`${flag} must be rw or ro, got '${value}'`);
}

export type DriveTarget = { device: string } | { sim: string; n: number };

interface OpenedDrive {
  drive: OpalDrive;
  end(): Promise<void>;
}

function driveTarget(values: Values): DriveTarget {
  const device = values.device as string | undefined;
  const sim = values.sim as string | undefined;
  const n = values.drive as string | undefined;
  if (device !== undefined && (sim !== undefined || n !== undefined))
    throw new UsageError('--device and --sim/--drive are exclusive');
  if (device !== undefined) {
    if (!device.startsWith('/')) throw new UsageError('--device wants an absolute path');
    return { device };
  }
  if (sim === undefined) throw new UsageError('give --device PATH or --sim SOCKET --drive N');
  if (n === undefined || !/^[0-9]{1,4}$/.test(n))
    throw new UsageError('--sim needs --drive N (the simulated drive number)');
  return { sim, n: Number(n) };
}

function openDrive(target: DriveTarget): OpenedDrive {
  if ('device' in target)
    return { drive: new OpalDrive(new LibcTransport(), target.device), end: async () => {} };
  // Loaded only for --sim: the simulator's client is test equipment.
  const { SimTransport } = require('../../opal/sim-socket/transport') as typeof SimClient;
  const transport = new SimTransport(target.sim);
  return { drive: new OpalDrive(transport, `sim:${target.n}`), end: () => transport.end() };
}

function errorJson(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return { ok: false, error: { name: err.name, code, message: err.message } };
}

/** Where a command reads PINs from and writes its answer to. */
export interface CommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export interface OpalCommandModule extends CommandModule {
  /** run() with explicit streams; usage errors are thrown as UsageError. */
  runWith(argv: string[], io: CommandIo): Promise<number>;
}

export function opalCommand(spec: OpalCommandSpec): OpalCommandModule {
  return {
    run: (argv) => runOpalCommand(spec, argv, process),
    runWith: (argv, io) => runOpalCommand(spec, argv, io),
  };
}

async function runOpalCommand(
  spec: OpalCommandSpec,
  argv: string[],
  io: CommandIo,
): Promise<number> {
  let values: Values;
  try {
    values = parseArgs({
      args: argv,
      options: { ...COMMON, ...PIN_OPTIONS, ...spec.options },
      strict: true,
      allowPositionals: false,
    }).values as Values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(usage(spec));
    return EXIT_OK;
  }
  const pinFile = values['pin-file'] as string | undefined;
  const newPinFile = values['new-pin-file'] as string | undefined;
  const pinFrom =
    spec.pinFrom && values[spec.pinFrom.flag] !== undefined ? spec.pinFrom : undefined;
  if (pinFrom && pinFile !== undefined)
    throw new UsageError(`--pin-file and --${pinFrom.flag} are exclusive`);
  if (spec.pin && !pinFrom && pinFile === undefined)
    throw new UsageError(
      `--pin-file PATH is required${spec.pinFrom ? ` (or --${spec.pinFrom.flag})` : ''}`,
    );
  if (!spec.pin && pinFile !== undefined) throw new UsageError('--pin-file is not used here');
  if (spec.newPin && newPinFile === undefined)
    throw new UsageError('--new-pin-file PATH is required');
  if (!spec.newPin && newPinFile !== undefined)
    throw new UsageError('--new-pin-file is not used here');
  if (pinFile === '-' && newPinFile === '-')
    throw new UsageError('only one of --pin-file and --new-pin-file can read stdin');

  const target = driveTarget(values);
  let pin: Buffer = Buffer.alloc(0);
  let newPin: Buffer = Buffer.alloc(0);
  let opened: OpenedDrive | undefined;
  try {
    if (pinFile !== undefined) pin = await readPin('--pin-file', pinFile, io.stdin);
    if (pinFrom) pin = await pinFrom.fetch(values, target);
    if (newPinFile !== undefined) newPin = await readPin('--new-pin-file', newPinFile, io.stdin);
    opened = openDrive(target);
    const result = await spec.run({ drive: opened.drive, values, pin, newPin });
    io.stdout.write(
      values.json ? `${JSON.stringify({ ok: true, ...result }, jsonSafe)}\n` : spec.text(result),
    );
    return EXIT_OK;
  } catch (err) {
    // Usage errors go to the dispatcher (exit 2); a drive, kernel or simulator error is
    // this command's answer (exit 1).
    if (err instanceof UsageError || !(err instanceof Error)) throw err;
    if (values.json) io.stdout.write(`${JSON.stringify(errorJson(err))}\n`);
    io.stderr.write(`ekmctl opal ${spec.name}: ${err.message}\n`);
    return EXIT_FAILURE;
  } finally {
    pin.fill(0);
    newPin.fill(0);
    await opened?.end();
  }
}

/** bigint LBAs as decimal strings. */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
