// The development daemon of `npm start` (scripts/dev/start.ts): run from the repository
// root, ekmctl finds its address in .state/ekmd.json and the admin credentials in
// .state/admin.json, and trusts the certificate ekmd keeps in its stateDir.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { API_CERT_FILE } from '../../store/state-files';
import { parseJsonObject } from '../../util/json-error';
import { readPrivateJson } from './private-file';

export const DEV_STATE_DIR = '.state';

export interface DevDaemon {
  url: string;
  username: string;
  password: string;
  /** PEM of the daemon's self-signed certificate, when it has made one. */
  ca?: string;
}

/** The dev daemon of `cwd`, or undefined when there is no dev state there. */
export function findDevDaemon(cwd: string = process.cwd()): DevDaemon | undefined {
  const dir = join(cwd, DEV_STATE_DIR);
  const adminPath = join(dir, 'admin.json');
  const configPath = join(dir, 'ekmd.json');
  if (!existsSync(adminPath) || !existsSync(configPath)) return undefined;
  const admin = readPrivateJson(adminPath) ?? {};
  const config = readJson(configPath);
  const listen = (config.api as { listen?: unknown } | undefined)?.listen;
  if (typeof listen !== 'string') throw new Error(`${configPath}: no api.listen`);
  if (typeof admin.username !== 'string' || typeof admin.password !== 'string') {
    throw new Error(`${adminPath} must hold "username" and "password" strings`);
  }
  const stateDir = typeof config.stateDir === 'string' ? resolve(dir, config.stateDir) : undefined;
  const certPath = stateDir && join(stateDir, API_CERT_FILE);
  return {
    url: `https://${listen}`,
    username: admin.username,
    password: admin.password,
    ...(certPath && existsSync(certPath) ? { ca: readFileSync(certPath, 'utf8') } : {}),
  };
}

function readJson(path: string): { [k: string]: unknown } {
  return parseJsonObject(readFileSync(path, 'utf8'), path);
}
