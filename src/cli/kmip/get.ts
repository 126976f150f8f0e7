// `ekmctl kmip get UID`: fetch one object and print its type, algorithm, state, names and
// the SHA-256 of its key material — never the material itself.
import { createHash } from 'node:crypto';
import { EXIT_OK, UsageError } from '../../util/command';
import { KmipClient, ops } from '../../kmip/client';
import { Tag, enumName } from '../../kmip/ttlv';
import { TLS_USAGE, parseClientFlags, reportError } from './probe';

const name = (tag: number, v: number | undefined): string | null =>
  v === undefined ? null : (enumName(tag, v) ?? `0x${v.toString(16)}`);

export async function run(argv: string[]): Promise<number> {
  const { options, json, help, positionals } = parseClientFlags(argv);
  if (help) {
    process.stdout.write(
      [
        'Usage: ekmctl kmip get UID --host H [--port 5696] --ca F --cert F --key F [--json]',
        ...TLS_USAGE,
        '',
      ].join('\n'),
    );
    return EXIT_OK;
  }
  if (positionals.length !== 1 || !positionals[0])
    throw new UsageError('exactly one UID is required');
  const uid = positionals[0];
  const client = new KmipClient(options);
  try {
    const { endpoint, results } = await client.batch([
      ops.get(uid),
      ops.getAttributes(uid),
    ] as const);
    const [got, attrs] = results;
    if (!got.ok) throw got.error;
    const obj = got.value;
    const sha256 = createHash('sha256').update(obj.material).digest('hex');
    obj.material.fill(0);
    const a = attrs.ok ? attrs.value.attributes : {};
    const report = {
      uid,
      endpoint,
      objectType: name(Tag.ObjectType, obj.objectType),
      algorithm: name(
        Tag.CryptographicAlgorithm,
        obj.cryptographicAlgorithm ?? a.cryptographicAlgorithm,
      ),
      length: obj.cryptographicLength ?? a.cryptographicLength ?? null,
      state: name(Tag.State, a.state),
      names: a.names ?? [],
      sha256,
    };
    if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const rows: [string, string][] = [
        ['uid', report.uid],
        ['endpoint', report.endpoint],
        ['object type', report.objectType ?? '?'],
        [
          'algorithm',
          report.algorithm
            ? `${report.algorithm}${report.length ? `-${report.length}` : ''}`
            : '(none)',
        ],
        ['state', report.state ?? '(unknown)'],
        ['names', report.names.join(', ') || '(none)'],
        ['sha256', report.sha256],
      ];
      for (const [k, v] of rows) process.stdout.write(`${k.padEnd(12)} ${v}\n`);
    }
    return EXIT_OK;
  } catch (err) {
    return reportError(err, json);
  } finally {
    client.close();
  }
}
