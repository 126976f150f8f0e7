// The real KeyServerTester: for each hostname of the key server in turn, connect as the
// cluster (mutual TLS), negotiate the version (Discover Versions) and run Query. Every
// hostname must answer: a dead member of a clustered key server is worth knowing about.
// Tests take turns, a few at a time: each is a full mutual-TLS handshake, and many at once
// on a busy node all run out of their connect timeout together. The timeouts start when a
// test's turn comes, so waiting in line is never a failure.
import type { Logger } from 'pino';
import { KmipClient, KmipError, formatVersion } from '../../kmip/client';
import type { KmipVersion } from '../../kmip/ttlv';
import type {
  KeyServerEndpoint,
  KeyServerTestOutcome,
  KeyServerTester,
  KeyServerTestStep,
} from './key-server-tester';
import { InFlightLimit } from '../../util/in-flight-limit';

export interface KmipTesterOptions {
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Pin a KMIP version instead of negotiating (config kmip.version). */
  version?: KmipVersion;
  logger?: Logger;
}

const TRANSPORT_STAGES = new Set(['dns', 'connect', 'tls', 'auth']);
/** Key-server tests running at once (Modify, TestKeyServerKmip); the rest queue. */
export const MAX_CONCURRENT_TESTS = 8;

export class KmipKeyServerTester implements KeyServerTester {
  private readonly turns = new InFlightLimit(MAX_CONCURRENT_TESTS);

  constructor(private readonly options: KmipTesterOptions = {}) {}

  async test(endpoint: KeyServerEndpoint): Promise<KeyServerTestOutcome> {
    return this.turns.run(() => this.testAll(endpoint));
  }

  private async testAll(endpoint: KeyServerEndpoint): Promise<KeyServerTestOutcome> {
    let version = '';
    for (const hostname of endpoint.hostnames) {
      const outcome = await this.testOne(endpoint, hostname);
      if (!outcome.ok) return outcome;
      version = outcome.kmipVersion;
    }
    return { ok: true, kmipVersion: version };
  }

  private async testOne(
    endpoint: KeyServerEndpoint,
    hostname: string,
  ): Promise<KeyServerTestOutcome> {
    let step: KeyServerTestStep = 'connect';
    let client: KmipClient | undefined;
    try {
      client = new KmipClient({
        hostnames: [hostname],
        port: endpoint.port,
        ca: endpoint.caCertificate,
        cert: endpoint.clientCertificate,
        key: endpoint.clientKey, // zeroed by the caller once the test settles
        connectTimeoutMs: this.options.connectTimeoutMs,
        requestTimeoutMs: this.options.requestTimeoutMs,
        version: this.options.version,
        logger: this.options.logger,
      });
      step = 'discoverVersions';
      const { version } = await client.connect();
      step = 'query';
      await client.query();
      return { ok: true, kmipVersion: formatVersion(version) };
    } catch (err) {
      if (!(err instanceof KmipError)) throw err;
      const failedStep = TRANSPORT_STAGES.has(err.stage) ? (err.stage as KeyServerTestStep) : step;
      return { ok: false, failedStep, message: err.message };
    } finally {
      client?.close();
    }
  }
}
