/** A subcommand module: loaded only when its name is typed, so `--help` stays fast. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

export interface CommandEntry {
  summary: string;
  load(): CommandModule;
}

/** Exit codes shared by every bin: documented in README. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Thrown by a command for bad flags or arguments; the dispatcher prints it and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Dispatch argv[0] to a lazily-required command module. Unknown commands and usage
 * errors print one line to stderr and return EXIT_USAGE.
 */
export async function dispatch(
  prog: string,
  table: Record<string, CommandEntry>,
  argv: string[],
  usage: () => string,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const entry = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  if (!entry) {
    process.stderr.write(`${prog}: unknown command '${name}' (see '${prog} --help')\n`);
    return EXIT_USAGE;
  }
  try {
    return await entry.load().run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${prog} ${name}: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
}

/** Run a bin's main and turn its result into the process exit code. */
export function runMain(prog: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const msg = err instanceof Error ? err.message : String(err);
      process.stderr.write(`${prog}: ${msg}\n`);
      process.exitCode = 1;
    },
  );
}
