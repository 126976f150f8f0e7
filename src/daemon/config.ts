// Load, validate and default ekmd's configuration file. Errors name the offending key's
// path and never echo values (the file holds the bootstrap password).
import type { ErrorObject } from 'ajv';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { CONFIG_SCHEMA, schemaValidator, type Validate } from './generated-validators';
import {
  MIN_BOOTSTRAP_PASSWORD,
  type DRIVE_ROLES,
  type KMIP_VERSIONS,
  type LOG_LEVELS,
} from './config-schema';
import type { SyslogFacility } from '../cluster/faults/fault-syslog';
import { checkPasswordReaders, ConfigError, readConfigFile } from './config-file';
import { checkEtcdConfig, type EtcdStoreConfig } from '../store/etcd/config';

export { ConfigError };

export type KmipVersion = (typeof KMIP_VERSIONS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type DriveRole = (typeof DRIVE_ROLES)[number];

export interface Config {
  /** Absolute: store, seal key, lock file, self-signed API certificate. */
  stateDir: string;
  api: {
    listen: string;
    /** Before CreateCluster; absent: loopback at api.listen's port (listenBeforeCluster). */
    bootstrapListen?: string;
    tls?: { cert: string; key: string };
  };
  /** Bootstrap credentials, valid until CreateCluster sets the cluster admin. */
  admin?: { username: string; password: string };
  drives: {
    backend: 'sim' | 'ioctl';
    sim?: { socket: string };
    ioctl?: { devices: string[] };
    /** Serial or index → role; absent: drive 0 volume, the rest block. */
    roles?: Record<string, DriveRole>;
  };
  kmip: { version?: KmipVersion; connectTimeoutMs: number; requestTimeoutMs: number };
  unlock: { retry: { maxDelayMs: number }; metadataGraceSec: number; keyCheckIntervalSec: number };
  /** Prometheus endpoint; off when listen is absent. */
  metrics: { listen?: string };
  log: { level: LogLevel };
  /** This node in the cluster's node records (ListActiveNodes: name, mip). */
  node: { name?: string; ip?: string };
  /** Cluster faults as RFC 5424 lines on the local syslog socket, when `faults` is on. */
  syslog: { faults: boolean; socket: string; facility: SyslogFacility };
  /** Where cluster state lives: stateDir's SQLite file, or etcd shared by the nodes. */
  store: { backend: 'sqlite' | 'etcd'; etcd?: EtcdStoreConfig };
}

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Passwords of the shipped examples (systemd/ekmd.example.json, docs/CONFIGURATION.md):
 * a node started with one of them would take the first caller who read the docs as admin.
 */
export const EXAMPLE_PASSWORDS: readonly string[] = ['change-me-before-first-start'];

let validate: Validate | undefined;

/** The config schema's validator: the one the build generated, or compiled by Ajv. */
export function configValidator(dir = __dirname): { validate: Validate; generated: boolean } {
  return schemaValidator(CONFIG_SCHEMA, dir);
}

/** Read FILE, validate it and return the defaulted config; paths resolved beside FILE. */
export function loadConfig(file: string): Config {
  const { raw, stats } = readConfigFile(file);
  const config = parseConfig(raw, { source: file, baseDir: dirname(resolve(file)) });
  if (config.admin) checkPasswordReaders(file, stats);
  return config;
}

/** Validate an already-parsed config object (a deep copy is defaulted, not `raw`). */
export function parseConfig(raw: unknown, where: { source: string; baseDir: string }): Config {
  validate ??= configValidator().validate;
  const config = structuredClone(raw);
  if (!validate(config)) {
    throw new ConfigError(`config ${where.source}: ${describe(validate.errors ?? [])}`);
  }
  const c = config as Config;
  const problems: string[] = [];
  if (c.admin && EXAMPLE_PASSWORDS.includes(c.admin.password)) {
    problems.push(
      'admin.password is the example password: choose your own bootstrap password ' +
        `(${MIN_BOOTSTRAP_PASSWORD} characters or more), set it as admin.password and start ekmd again`,
    );
  }
  for (const [key, value] of [
    ['api.listen', c.api.listen],
    ['api.bootstrapListen', c.api.bootstrapListen],
    ['metrics.listen', c.metrics.listen],
  ] as const) {
    if (value === undefined) continue;
    try {
      parseListen(value);
    } catch (err) {
      problems.push(`${key}: ${(err as Error).message}`);
    }
  }
  if (c.node.ip !== undefined && !isIP(c.node.ip)) {
    problems.push(`node.ip: ${JSON.stringify(c.node.ip)} is not an IP address`);
  }
  const abs = (p: string) => resolve(where.baseDir, p);
  c.syslog.socket = abs(c.syslog.socket);
  // sun_path holds 108 bytes with the terminating NUL.
  if (Buffer.byteLength(c.syslog.socket) > 107) {
    problems.push('syslog.socket: longer than a Unix socket path may be (107 bytes)');
  }
  if (c.store.etcd) {
    const { tls } = c.store.etcd;
    if (tls) c.store.etcd.tls = { ca: abs(tls.ca), cert: abs(tls.cert), key: abs(tls.key) };
    try {
      c.store.etcd = checkEtcdConfig(c.store.etcd);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new ConfigError(`config ${where.source}: ${problems.join('; ')}`);
  c.stateDir = abs(c.stateDir);
  if (c.api.tls) c.api.tls = { cert: abs(c.api.tls.cert), key: abs(c.api.tls.key) };
  if (c.drives.sim) c.drives.sim.socket = abs(c.drives.sim.socket);
  return c;
}

/**
 * Where the API listens until CreateCluster: api.bootstrapListen when the config gives it,
 * else the loopback address of api.listen's family at its port (api.listen itself when
 * that is loopback already), so that the bootstrap password only works from the node.
 */
export function listenBeforeCluster(api: Config['api']): ListenAddress {
  if (api.bootstrapListen !== undefined) return parseListen(api.bootstrapListen);
  const at = parseListen(api.listen);
  if (isLoopback(at.host)) return at;
  return { host: isIP(at.host) === 6 ? '::1' : '127.0.0.1', port: at.port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** "host:port" or "[v6]:port" → its parts; a clear error otherwise. */
export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error('must be host:port (IPv6 as [addr]:port) with a port 0-65535');
  }
  return { host: m[1] ?? m[2], port };
}

function describe(errors: ErrorObject[]): string {
  const seen = new Set<string>();
  for (const e of errors) {
    // `if` and the inner errors of propertyNames are restated by a clearer sibling error.
    if (e.keyword === 'if' || e.propertyName !== undefined) continue;
    const at = e.instancePath.slice(1).replace(/\//g, '.');
    const join = (key: string) => (at ? `${at}.${key}` : key);
    let line: string;
    switch (e.keyword) {
      case 'additionalProperties':
        line = `${join(String(e.params.additionalProperty))}: unknown key`;
        break;
      case 'required':
        line = `${join(String(e.params.missingProperty))}: required`;
        break;
      case 'enum':
        line = `${at}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
        break;
      case 'minLength':
        line =
          at === 'admin.password'
            ? `admin.password: a bootstrap password needs ${MIN_BOOTSTRAP_PASSWORD} characters or more`
            : `${at}: ${e.message ?? e.keyword}`;
        break;
      case 'propertyNames':
        line = `${at}: key ${JSON.stringify(e.params.propertyName)} not allowed`;
        break;
      default:
        line = `${at || '(top level)'}: ${e.message ?? e.keyword}`;
    }
    seen.add(line);
  }
  return [...seen].join('; ');
}
