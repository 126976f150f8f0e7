// Which ekmd to talk to and as whom: flags first, then the environment, then the 0600
// config file; when none of them names a daemon or credentials, the dev daemon whose
// .state/ is in the current directory (see dev-state.ts). A password never comes from argv: only a file, the environment, the
// config file or a prompt on the terminal.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../util/command';
import { CONFIG_FILE, configDir } from './config-dir';
import { findDevDaemon } from './dev-state';
import { readPrivateJson } from './private-file';
import { canPrompt, promptPassword } from './prompt';
import { fingerprintOf } from './trust';

export const DEFAULT_URL = 'https://127.0.0.1:8443';

export interface ConnectionFlags {
  url?: string;
  username?: string;
  passwordFile?: string;
  ca?: string;
  fingerprint?: string;
}

export interface Connection {
  url: URL;
  username: string;
  /** Asked on the terminal when no other source had one; then kept for the next calls. */
  password: string | (() => Promise<string>);
  /** PEM of the CA the daemon's certificate must chain to; absent: trust.ts decides. */
  ca?: string;
  /** The SHA-256 fingerprint the daemon's certificate must have (--fingerprint), normalised. */
  fingerprint?: string;
}

interface ConfigFile {
  url?: string;
  username?: string;
  password?: string;
  ca?: string;
  fingerprint?: string;
}

export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv = process.env,
): Connection {
  const file = readConfigFile(join(configDir(env), CONFIG_FILE));
  const given = flags.fingerprint ?? file.fingerprint;
  const pinned = given === undefined ? {} : { fingerprint: fingerprintOf(given) };
  const dev = nothingGiven(flags, env, file) ? findDevDaemon() : undefined;
  if (dev) {
    const { url, username, password } = dev;
    const pem = flags.ca ? ca(flags.ca) : dev.ca ? { ca: dev.ca } : {};
    return { url: parseUrl(url), username, password, ...pem, ...pinned };
  }
  const url = parseUrl(flags.url ?? env.EKMCTL_URL ?? file.url ?? DEFAULT_URL);
  const username = flags.username ?? env.EKMCTL_USERNAME ?? file.username;
  if (!username) {
    throw new UsageError(
      `no username: give --username, EKMCTL_USERNAME or "username" in ${CONFIG_FILE}`,
    );
  }
  const password =
    flags.passwordFile !== undefined
      ? readPasswordFile(flags.passwordFile)
      : (env.EKMCTL_PASSWORD ?? file.password);
  if (!password && canPrompt()) {
    return {
      url,
      username,
      password: () => promptPassword(`Password for ${username}: `),
      ...ca(flags.ca ?? file.ca),
      ...pinned,
    };
  }
  if (!password) {
    throw new UsageError(
      `no password: give --password-file, EKMCTL_PASSWORD or "password" in ${CONFIG_FILE}`,
    );
  }
  return { url, username, password, ...ca(flags.ca ?? file.ca), ...pinned };
}

function nothingGiven(flags: ConnectionFlags, env: NodeJS.ProcessEnv, file: ConfigFile): boolean {
  const given = [
    flags.url,
    flags.username,
    flags.passwordFile,
    env.EKMCTL_URL,
    env.EKMCTL_USERNAME,
    env.EKMCTL_PASSWORD,
    file.url,
    file.username,
    file.password,
  ];
  return given.every((v) => v === undefined);
}

function ca(file: string | undefined): { ca?: string } {
  return file ? { ca: readText(file, 'CA file') } : {};
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`bad URL '${text}' (expected https://HOST:PORT)`);
  }
  if (url.protocol !== 'https:') throw new UsageError(`bad URL '${text}': ekmd speaks https only`);
  if (url.username || url.password) {
    throw new UsageError('the URL must not carry credentials; use --username and --password-file');
  }
  return url;
}

/** The config file is optional; when present it must be private to its owner. */
function readConfigFile(path: string): ConfigFile {
  const parsed = readPrivateJson(path);
  if (!parsed) return {};
  const known = new Set(['url', 'username', 'password', 'ca', 'fingerprint']);
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.has(key)) throw new Error(`${path}: unknown key "${key}"`);
    if (typeof value !== 'string') throw new Error(`${path}: "${key}" must be a string`);
  }
  return parsed as ConfigFile;
}

/** The whole file minus one trailing newline, as `echo pw > file` leaves it. */
function readPasswordFile(path: string): string {
  return readText(path, 'password file').replace(/\r?\n$/, '');
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
