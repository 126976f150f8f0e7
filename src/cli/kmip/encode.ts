// `ekmctl kmip encode [--format json|xml] [--hex]`: one message in the KMIP JSON or XML
// encoding on stdin → binary TTLV on stdout (hex text with --hex). Without --format the
// input is taken as XML when it starts with '<', else JSON. Bad input: one line naming
// the field, exit 2.
import { EXIT_OK } from '../../util/command';
import { DEFAULT_MAX_BYTES } from '../../kmip/ttlv/decode';
import { encodeTtlv } from '../../kmip/ttlv/encode';
import { jsonToTtlv } from '../../kmip/ttlv/json';
import { xmlToTtlv } from '../../kmip/ttlv/xml';
import { parseCodecFlags, readStdin, reportInputError } from './decode';

const USAGE = `Usage: ekmctl kmip encode [--format json|xml] [--hex]

Reads one message in the KMIP JSON or XML encoding on stdin and writes its binary TTLV
to stdout (hex text with --hex). Without --format, input starting with '<' is XML.
`;

/** Text input is larger than the binary it describes; allow for that. */
const TEXT_LIMIT = DEFAULT_MAX_BYTES * 8;

export async function run(argv: string[]): Promise<number> {
  const flags = parseCodecFlags(argv);
  if (flags.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  try {
    const text = (await readStdin(TEXT_LIMIT)).toString('utf8');
    const format = flags.format ?? (text.trimStart().startsWith('<') ? 'xml' : 'json');
    const item = format === 'xml' ? xmlToTtlv(text) : jsonToTtlv(text);
    const wire = encodeTtlv(item);
    process.stdout.write(flags.hex ? wire.toString('hex') + '\n' : wire);
    return EXIT_OK;
  } catch (err) {
    return reportInputError('encode', err);
  }
}
