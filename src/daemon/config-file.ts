// Reading ekmd's config file as carefully as the seal key: it may hold the bootstrap
// password, and whoever can write it decides where the API listens and which drives are
// touched. Its owner must be root or the user ekmd runs as; nobody else may write it;
// holding a password, nobody but its owner and group may read it. Errors never quote it.
import { closeSync, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { jsonSyntaxError } from '../util/json-error';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ConfigFile {
  raw: unknown;
  /** Checked once the config is known to hold a password (mayHoldPassword). */
  stats: Stats;
}

/** The parsed JSON of `file`, refused when others could have written it. */
export function readConfigFile(file: string, uid = process.geteuid?.()): ConfigFile {
  let text: string;
  let stats: Stats;
  try {
    const fd = openSync(file, 'r');
    try {
      stats = fstatSync(fd);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`cannot read config ${file}: ${code}`);
  }
  checkWriters(file, stats, uid);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    const where = jsonSyntaxError(text) ?? 'a syntax error';
    throw new ConfigError(`config ${file}: not valid JSON at ${where}`);
  }
  return { raw, stats };
}

function checkWriters(file: string, stats: Stats, uid: number | undefined): void {
  if (uid !== undefined && stats.uid !== 0 && stats.uid !== uid) {
    throw new ConfigError(
      `config ${file} belongs to uid ${stats.uid}: it must belong to root or to the user ` +
        `ekmd runs as (uid ${uid}); run: chown root ${file}`,
    );
  }
  if ((stats.mode & 0o022) !== 0) {
    throw new ConfigError(
      `config ${file} is writable by group or others (mode ${octal(stats)}); ` +
        `run: chmod go-w ${file}`,
    );
  }
}

/** A file holding the bootstrap password may be read by its owner and group only. */
export function checkPasswordReaders(file: string, stats: Stats): void {
  if ((stats.mode & 0o004) !== 0) {
    throw new ConfigError(
      `config ${file} holds the bootstrap password and is readable by others ` +
        `(mode ${octal(stats)}); run: chmod o-r ${file} (0600, or 0640 with group ekmd)`,
    );
  }
}

const octal = (stats: Stats) => (stats.mode & 0o777).toString(8);
