// The etcd backend's settings, as the config file gives them (store.etcd):
//   { "endpoints": ["https://10.0.0.1:2379", ...], "prefix": "/ekmd/cluster-1/",
//     "tls": { "ca": "/etc/ekmd/etcd-ca.pem", "cert": "...", "key": "..." } }
// Cluster state crosses the network to etcd, so mutual TLS is required unless every
// endpoint is on this host's loopback. Checked whole before anything connects; each
// problem is named by its path in the config.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { StoreError } from '../errors';

export interface EtcdTlsFiles {
  /** CA certificate(s) that signed the etcd members' server certificates (PEM). */
  ca: string;
  /** This node's client certificate (PEM), and its private key. */
  cert: string;
  key: string;
}

export interface EtcdStoreConfig {
  endpoints: string[];
  /** One per cluster: "/ekmd/<cluster>/"; every key of the store lives under it. */
  prefix: string;
  tls?: EtcdTlsFiles;
}

export interface EtcdTlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

const DEFAULT_PORT = '2379';
const MAX_PREFIX_LENGTH = 256;

export function checkEtcdConfig(value: unknown, at = 'store.etcd'): EtcdStoreConfig {
  const config = plainObject(value, at);
  onlyKeys(config, ['endpoints', 'prefix', 'tls'], at);
  const endpoints = checkEndpoints(config.endpoints, `${at}.endpoints`);
  const prefix = checkPrefixSetting(config.prefix, `${at}.prefix`);
  if (config.tls === undefined) {
    const remote = endpoints.find((e) => !isLoopback(new URL(e).hostname));
    if (remote) {
      throw new StoreError(
        `${at}.tls is required: endpoint ${remote} is not on this host's loopback, and cluster ` +
          'state goes to etcd over mutual TLS only',
      );
    }
    const secure = endpoints.find((e) => e.startsWith('https:'));
    if (secure) throw new StoreError(`${at}.tls is required for endpoint ${secure} (https)`);
    return { endpoints, prefix };
  }
  const tls = plainObject(config.tls, `${at}.tls`);
  onlyKeys(tls, ['ca', 'cert', 'key'], `${at}.tls`);
  const files = {} as EtcdTlsFiles;
  for (const name of ['ca', 'cert', 'key'] as const) {
    const path = tls[name];
    if (typeof path !== 'string' || path === '') {
      throw new StoreError(`${at}.tls.${name} must be the path of a PEM file`);
    }
    files[name] = path;
  }
  const plain = endpoints.find((e) => e.startsWith('http:'));
  if (plain) {
    throw new StoreError(`${at}.endpoints: ${plain} is not https, but ${at}.tls is set`);
  }
  return { endpoints, prefix, tls: files };
}

/** Read the TLS files; an error names the setting and the file, never the content. */
export function readTlsFiles(files: EtcdTlsFiles, at = 'store.etcd.tls'): EtcdTlsMaterial {
  const read = (name: keyof EtcdTlsFiles): Buffer => {
    let pem: Buffer;
    try {
      pem = readFileSync(files[name]);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new StoreError(`cannot read ${at}.${name} ${files[name]}: ${code}`);
    }
    if (!pem.includes('-----BEGIN ')) {
      throw new StoreError(`${at}.${name} ${files[name]} is not a PEM file`);
    }
    return pem;
  };
  return { ca: read('ca'), cert: read('cert'), key: read('key') };
}

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves this host. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

function checkEndpoints(value: unknown, at: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new StoreError(`${at} must be a non-empty list of etcd client URLs`);
  }
  const seen = new Set<string>();
  return value.map((raw, i) => {
    const endpoint = checkEndpoint(raw, `${at}[${i}]`);
    if (seen.has(endpoint)) throw new StoreError(`${at}[${i}]: ${endpoint} is listed twice`);
    seen.add(endpoint);
    return endpoint;
  });
}

function checkEndpoint(value: unknown, at: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  const shown = JSON.stringify(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new StoreError(`${at}: ${shown} is not an http:// or https:// URL`);
  }
  if (
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    (url.pathname !== '/' && url.pathname !== '')
  ) {
    throw new StoreError(`${at}: ${shown} must be scheme://host:port only`);
  }
  if (!url.hostname) throw new StoreError(`${at}: ${shown} names no host`);
  return `${url.protocol}//${url.hostname}:${url.port || DEFAULT_PORT}`;
}

function checkPrefixSetting(value: unknown, at: string): string {
  if (typeof value === 'string' && /[\u0000-\u001f\u007f]/.test(value)) {
    throw new StoreError(`${at} contains a control character`);
  }
  if (typeof value !== 'string' || !/^\/.*\/$/.test(value) || value.length < 2) {
    throw new StoreError(`${at} must start and end with "/" (e.g. "/ekmd/cluster-1/")`);
  }
  if (value.length > MAX_PREFIX_LENGTH) {
    throw new StoreError(`${at} is longer than ${MAX_PREFIX_LENGTH} characters`);
  }
  return value;
}

function plainObject(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StoreError(`${at} must be an object`);
  }
  return value as Record<string, unknown>;
}

function onlyKeys(value: Record<string, unknown>, allowed: string[], at: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new StoreError(`${at}.${key} is not a setting`);
  }
}
