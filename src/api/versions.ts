// Which /json-rpc/<version> paths are served. Element clients pick a version per call
// (the SDK's factory asks GetAPI at 7.0, then uses currentVersion); every method is
// answered on every supported version.

export const CURRENT_VERSION = '12.3';

/** Element's published versions up to ours. */
export const SUPPORTED_VERSIONS: readonly string[] = (
  '1.0 2.0 3.0 4.0 5.0 5.1 6.0 7.0 7.1 7.2 7.3 7.4 8.0 8.1 8.2 8.3 8.4 8.5 8.6 8.7 ' +
  '9.0 9.1 9.2 9.3 9.4 9.5 9.6 10.0 10.1 10.2 10.3 10.4 10.5 10.6 10.7 11.0 11.1 11.3 11.5 11.7 11.8 12.0 12.2 12.3'
).split(' ');

const PATH = /^\/json-rpc(?:\/(\d{1,2})\.(\d{1,2}))?\/?$/;

/**
 * The API version a request path asks for (CURRENT_VERSION for bare /json-rpc), or
 * undefined when the path is not ours. Any 1.x–12.x is accepted: clients format the
 * version themselves and may name a minor release we did not list.
 */
export function versionOfPath(path: string): string | undefined {
  const m = PATH.exec(path);
  if (!m) return undefined;
  if (m[1] === undefined) return CURRENT_VERSION;
  const major = Number(m[1]);
  if (major < 1 || major > 12) return undefined;
  return `${major}.${Number(m[2])}`;
}
