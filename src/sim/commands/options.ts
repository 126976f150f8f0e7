// Flag parsing shared by the ekmd-sim commands: every one takes --socket (default
// $EKMD_SIM_SOCKET); bad flags are usage errors (exit 2) with one line of explanation.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../util/command';

type Options = NonNullable<ParseArgsConfig['options']>;

export const SOCKET_OPTION = { socket: { type: 'string' } } as const satisfies Options;

export function parse<O extends Options>(argv: string[], options: O, positionals = 0) {
  try {
    const r = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: positionals > 0,
      strict: true,
    });
    if (r.positionals.length > positionals)
      throw new UsageError(`unexpected argument '${r.positionals[positionals]}'`);
    return r;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}

export function socketPath(value: string | undefined): string {
  const path = value ?? process.env.EKMD_SIM_SOCKET;
  if (!path) throw new UsageError('--socket PATH is required (or set EKMD_SIM_SOCKET)');
  return path;
}

/** A non-negative integer flag; `undefined` when absent and optional. */
export function intFlag(name: string, value: string | undefined, required: true): number;
export function intFlag(
  name: string,
  value: string | undefined,
  required?: false,
): number | undefined;
export function intFlag(name: string, value: string | undefined, required = false) {
  if (value === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (!/^\d{1,15}$/.test(value)) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(value);
}
