// The environment systemd/ekmd.service gives the daemon (its [Service] Environment=
// lines), so that a load run starts ekmd as the unit would and measures what ships.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The unit file of this checkout (from dist/scripts/reliability/load). */
export const UNIT_FILE = join(__dirname, '../../../../systemd/ekmd.service');

/**
 * The variables the [Service] section's Environment= lines set, as systemd reads them:
 * assignments split at spaces, a double- or single-quoted one may hold spaces, a later
 * assignment of a name wins, and an empty Environment= clears the list.
 */
export function unitEnvironment(unitText: string): Record<string, string> {
  const env: Record<string, string> = {};
  let section = '';
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      section = line;
      continue;
    }
    const m = /^Environment\s*=\s*(.*)$/.exec(line);
    if (section !== '[Service]' || !m) continue;
    const words = splitWords(m[1]!);
    if (words.length === 0) for (const k of Object.keys(env)) delete env[k];
    for (const word of words) {
      const eq = word.indexOf('=');
      if (eq <= 0) throw new Error(`Environment=: not NAME=VALUE: ${word}`);
      env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return env;
}

/** Environment='s words: split at spaces; quotes group and are removed; \\ escapes. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else if (quote) {
      if (c === quote) quote = undefined;
      else word = (word ?? '') + c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (quote) throw new Error(`Environment=: unterminated quote: ${text}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** The environment of this checkout's unit. */
export function shippedEnvironment(): Record<string, string> {
  return unitEnvironment(readFileSync(UNIT_FILE, 'utf8'));
}
