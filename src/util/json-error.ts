// Where a JSON text stops being JSON, by line and column, without quoting any of it:
// the engine's own message quotes the text, and a config file holds a password.

/** "line L, column C: reason" for the first syntax error of `text`; undefined if none. */
export function jsonSyntaxError(text: string): string | undefined {
  const scanner = new Scanner(text);
  try {
    scanner.document();
    return undefined;
  } catch (err) {
    if (!(err instanceof SyntaxAt)) return 'nested too deeply to locate the error';
    const before = text.slice(0, err.offset);
    const line = before.split('\n').length;
    const column = err.offset - before.lastIndexOf('\n');
    return `line ${line}, column ${column}: ${err.reason}`;
  }
}

/**
 * `text` (read from `path`) parsed as a JSON object; an error names the line and column of a
 * syntax error but never quotes the text (it may hold a password).
 */
export function parseJsonObject(text: string, path: string): { [k: string]: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON (${jsonSyntaxError(text) ?? 'a syntax error'})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${path} must hold a JSON object`);
  }
  return parsed as { [k: string]: unknown };
}

class SyntaxAt extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** A recursive-descent check of RFC 8259 syntax that remembers only where it failed. */
class Scanner {
  private at = 0;

  constructor(private readonly s: string) {}

  document(): void {
    this.value();
    this.space();
    if (this.at < this.s.length) this.fail('unexpected text after the JSON value');
  }

  private fail(reason: string): never {
    throw new SyntaxAt(this.at, reason);
  }

  private space(): void {
    while (/[ \t\n\r]/.test(this.s[this.at] ?? '')) this.at++;
  }

  private value(): void {
    this.space();
    const c = this.s[this.at];
    if (c === undefined) this.fail('unexpected end of the file');
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    for (const word of ['true', 'false', 'null']) {
      if (this.s.startsWith(word, this.at)) {
        this.at += word.length;
        return;
      }
    }
    NUMBER.lastIndex = this.at;
    if (NUMBER.exec(this.s)) {
      this.at = NUMBER.lastIndex;
      return;
    }
    this.fail('unexpected character (not the start of a value)');
  }

  private object(): void {
    this.at++;
    this.space();
    if (this.s[this.at] === '}') {
      this.at++;
      return;
    }
    for (;;) {
      this.space();
      if (this.s[this.at] !== '"') this.fail('expected a property name in double quotes');
      this.string();
      this.space();
      if (this.s[this.at] !== ':') this.fail("expected ':' after the property name");
      this.at++;
      this.value();
      this.space();
      const c = this.s[this.at++];
      if (c === '}') return;
      if (c !== ',') {
        this.at--;
        this.fail("expected ',' or '}' after a property value");
      }
    }
  }

  private array(): void {
    this.at++;
    this.space();
    if (this.s[this.at] === ']') {
      this.at++;
      return;
    }
    for (;;) {
      this.value();
      this.space();
      const c = this.s[this.at++];
      if (c === ']') return;
      if (c !== ',') {
        this.at--;
        this.fail("expected ',' or ']' after an array element");
      }
    }
  }

  private string(): void {
    this.at++;
    for (;;) {
      const c = this.s.charCodeAt(this.at);
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c === 0x22) {
        this.at++;
        return;
      }
      if (c < 0x20) this.fail('control character (a raw newline or tab) in a string');
      if (c !== 0x5c) {
        this.at++;
        continue;
      }
      const escape = this.s[this.at + 1] ?? '';
      if ('"\\/bfnrt'.includes(escape) && escape !== '') this.at += 2;
      else if (escape === 'u' && /^[0-9A-Fa-f]{4}$/.test(this.s.slice(this.at + 2, this.at + 6)))
        this.at += 6;
      else this.fail('bad escape sequence in a string');
    }
  }
}
