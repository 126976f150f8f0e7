// The config file is read like the seal key: owned by root or ekmd's user, written by
// nobody else, not readable by others when it holds the bootstrap password; a JSON error
// says where, never what.
import t from 'tap';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/daemon/config';
import { readConfigFile } from '../../src/daemon/config-file';
import { jsonSyntaxError } from '../../src/util/json-error';

const PASSWORD = 'bootstrap-pw-S3CRET';
const withPassword = {
  stateDir: 'state',
  admin: { username: 'admin', password: PASSWORD },
  drives: { backend: 'sim', sim: { socket: 's' } },
};
const { admin: _none, ...withoutPassword } = withPassword;

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ekmd-config-file-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function write(d: string, text: string, mode: number): string {
  const file = join(d, 'ekmd.json');
  writeFileSync(file, text, { mode });
  chmodSync(file, mode); // whatever the umask
  return file;
}

function refusal(file: string): string {
  try {
    loadConfig(file);
  } catch (err) {
    t.type(err, ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

t.test('a JSON error names the line and column and quotes nothing', async (t) => {
  const d = dir(t);
  const text = [
    '{',
    '  "stateDir": "state",',
    `  "admin": { "username": "admin", "password": ${PASSWORD} },`, // quotes forgotten
    '  "drives": { "backend": "sim", "sim": { "socket": "s" } }',
    '}',
  ].join('\n');
  const msg = refusal(write(d, text, 0o600));
  t.match(msg, /ekmd\.json: not valid JSON at line 3, column 47: unexpected character/);
  t.notMatch(msg, PASSWORD);
  t.notMatch(msg, /"/, 'no quoted text at all');
  // What the engine says instead: the text around the error, a piece of password included.
  t.throws(() => JSON.parse(text), /bootstrap-/);
});

t.test('the JSON error locator agrees with JSON.parse', async (t) => {
  const cases: [string, string][] = [
    ['{"a": 1,}', 'line 1, column 9: expected a property name in double quotes'],
    ['{"a" 1}', "line 1, column 6: expected ':' after the property name"],
    ['[1 2]', "line 1, column 4: expected ',' or ']' after an array element"],
    ['{"a": "b', 'line 1, column 9: unterminated string'],
    ['{"a": "b\n"}', 'line 1, column 9: control character (a raw newline or tab) in a string'],
    ['{"a": "\\x"}', 'line 1, column 8: bad escape sequence in a string'],
    ['{}\n{}', 'line 2, column 1: unexpected text after the JSON value'],
    ['\n\n  ', 'line 3, column 3: unexpected end of the file'],
    ['{"a": tru}', 'line 1, column 7: unexpected character (not the start of a value)'],
    ['\ufeff{}', 'line 1, column 1: unexpected character (not the start of a value)'],
    ['{"a": 01}', "line 1, column 8: expected ',' or '}' after a property value"],
  ];
  for (const [text, where] of cases) {
    t.throws(() => JSON.parse(text), `JSON.parse refuses ${JSON.stringify(text)}`);
    t.equal(jsonSyntaxError(text), where, JSON.stringify(text));
  }
  for (const good of ['{"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"]}', ' "x" ', '0']) {
    JSON.parse(good);
    t.equal(jsonSyntaxError(good), undefined, good);
  }
});

t.test('no one but its owner and group may read a config holding a password', async (t) => {
  const d = dir(t);
  const msg = refusal(write(d, JSON.stringify(withPassword), 0o644));
  t.match(msg, /holds the bootstrap password and is readable by others \(mode 644\)/);
  t.match(msg, /chmod o-r/);
  t.notMatch(msg, PASSWORD);
  t.ok(loadConfig(write(d, JSON.stringify(withPassword), 0o640)).admin, '0640 is fine');
  t.ok(loadConfig(write(d, JSON.stringify(withPassword), 0o600)).admin, '0600 is fine');
  t.ok(loadConfig(write(d, JSON.stringify(withoutPassword), 0o644)), 'no password: 0644 is fine');
});

t.test('no one but its owner may write it', async (t) => {
  const d = dir(t);
  for (const mode of [0o620, 0o602, 0o666]) {
    const msg = refusal(write(d, JSON.stringify(withoutPassword), mode));
    t.match(msg, `is writable by group or others (mode ${mode.toString(8)}); run: chmod go-w`);
  }
});

t.test(
  "its owner is root or ekmd's user",
  { skip: process.getuid?.() !== 0 && 'needs root' },
  async (t) => {
    const d = dir(t);
    const file = write(d, JSON.stringify(withoutPassword), 0o600);
    chownSync(file, 4242, 0);
    t.match(
      refusal(file),
      /belongs to uid 4242: it must belong to root or to the user ekmd runs as/,
    );
    t.ok(readConfigFile(file, 4242).raw, "ekmd's own user may own it");
    chownSync(file, 0, 4242);
    t.ok(loadConfig(file), "root's file, whatever its group");
  },
);
