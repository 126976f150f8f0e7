// `ekmctl kmip …`: KMIP tools (codec, probe, get, dev key server).
import { dispatch, type CommandEntry } from '../util/command';

const commands: Record<string, CommandEntry> = {
  decode: { summary: 'binary TTLV on stdin -> JSON or XML', load: () => require('./kmip/decode') },
  encode: { summary: 'JSON or XML on stdin -> binary TTLV', load: () => require('./kmip/encode') },
  probe: {
    summary: 'Discover Versions + Query against a key server',
    load: () => require('./kmip/probe'),
  },
  get: {
    summary: 'fetch one object; prints its SHA-256, never the key',
    load: () => require('./kmip/get'),
  },
  'dev-server': {
    summary: 'development KMIP server (not for production)',
    load: () => require('./kmip/dev-server'),
  },
};

function usage(): string {
  return [
    'Usage: ekmctl kmip <command> [options]',
    '',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(11)}  ${c.summary}`),
    '',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  return dispatch('ekmctl kmip', commands, argv, usage);
}
