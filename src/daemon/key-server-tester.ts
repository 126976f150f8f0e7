// How the API's Test*, Modify and AddKeyServerToProvider methods reach a key server: the
// KMIP client connects with mutual TLS as the cluster, runs Discover Versions and Query,
// and a failure is reported with the step it happened at.
import type { Logger } from 'pino';
import type {
  KeyServerEndpoint,
  KeyServerTestOutcome,
  KeyServerTestStep,
  KeyServerTester,
} from '../cluster/key-server-tester';
import {
  CLIENT_VERSIONS,
  formatVersion,
  KmipClient,
  KmipError,
  parseVersion,
} from '../kmip/client';
import type { Config } from './config';

export function keyServerTester(config: Config, logger?: Logger): KeyServerTester {
  const pinned = config.kmip.version && parseVersion(config.kmip.version);
  return {
    async test(endpoint: KeyServerEndpoint): Promise<KeyServerTestOutcome> {
      let step: KeyServerTestStep = 'connect';
      let client: KmipClient | undefined;
      try {
        client = new KmipClient({
          hostnames: endpoint.hostnames,
          port: endpoint.port,
          ca: endpoint.caCertificate,
          cert: endpoint.clientCertificate,
          key: endpoint.clientKey.toString('utf8'),
          connectTimeoutMs: config.kmip.connectTimeoutMs,
          requestTimeoutMs: config.kmip.requestTimeoutMs,
          ...(pinned ? { version: pinned } : {}),
          ...(logger ? { logger } : {}),
        });
        // connect() is TCP + TLS and, unless pinned, Discover Versions.
        const { version } = await client.connect();
        step = 'discoverVersions';
        const spoken = await client.discoverVersions(pinned ? [pinned] : CLIENT_VERSIONS);
        if (spoken.length === 0) throw new KmipError('response', 'no common KMIP version');
        step = 'query';
        await client.query();
        return { ok: true, kmipVersion: formatVersion(version) };
      } catch (err) {
        const failedStep = step === 'connect' ? connectStep(err) : step;
        return { ok: false, failedStep, message: (err as Error).message };
      } finally {
        client?.close();
      }
    },
  };
}

/** Where inside connect() it failed: before, during or after the TLS handshake. */
function connectStep(err: unknown): KeyServerTestStep {
  if (!(err instanceof KmipError)) return 'connect';
  switch (err.stage) {
    case 'config':
    case 'dns':
    case 'connect':
      return 'connect';
    case 'tls':
    case 'auth':
      return 'tls';
    default:
      return 'discoverVersions';
  }
}
