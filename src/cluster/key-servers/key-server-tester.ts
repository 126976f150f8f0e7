// How the cluster checks that a key server works: connect with mutual TLS as the cluster,
// then Discover Versions and Query. The KMIP client implements it; the outcome names the
// step that failed so an operator knows whether to look at the network, the CA, the
// client certificate or the server.

export interface KeyServerEndpoint {
  hostnames: string[];
  port: number;
  /** PEM bundle that must have issued the key server's certificate. */
  caCertificate: string;
  /** PEM of the cluster's client certificate. */
  clientCertificate: string;
  /** PEM of the cluster's private key; zeroed by the caller once the test settles. */
  clientKey: Buffer;
}

/** certificates: checked locally before connecting; auth: the server refused our certificate. */
export type KeyServerTestStep =
  'certificates' | 'dns' | 'connect' | 'tls' | 'auth' | 'discoverVersions' | 'query';

export type KeyServerTestOutcome =
  { ok: true; kmipVersion: string } | { ok: false; failedStep: KeyServerTestStep; message: string };

export interface KeyServerTester {
  test(endpoint: KeyServerEndpoint): Promise<KeyServerTestOutcome>;
}
