// A small XML reader for the KMIP XML encoding: elements and attributes only. Prolog,
// comments and character data between elements (the test vectors' "# TIME n" lines) are
// skipped; DTDs, CDATA and processing instructions inside the root are refused.
import { TtlvError } from './error';

export interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  children: XmlElement[];
  /** Character offset of the element's '<' in the input, for error messages. */
  offset: number;
}

const NAME = /[A-Za-z_][\w.-]*/y;
const ATTR = /\s*([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/y;

/** Parse one XML document and return its root element. */
export function parseXml(text: string, maxDepth = 64): XmlElement {
  const p = new XmlParser(text, maxDepth);
  return p.document();
}

class XmlParser {
  private pos = 0;
  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  document(): XmlElement {
    this.skipMisc(true);
    if (this.s[this.pos] !== '<') this.fail('expected the root element');
    const root = this.element(1);
    this.skipMisc(false);
    if (this.pos < this.s.length) this.fail('content after the root element');
    return root;
  }

  /** Skip whitespace, comments, the XML declaration (prolog only) and, inside, bare text. */
  private skipMisc(prolog: boolean): void {
    const s = this.s;
    for (;;) {
      while (this.pos < s.length && /\s/.test(s[this.pos]!)) this.pos++;
      if (s.startsWith('<!--', this.pos)) {
        const end = s.indexOf('-->', this.pos + 4);
        if (end < 0) this.fail('unterminated comment');
        this.pos = end + 3;
      } else if (prolog && s.startsWith('<?xml', this.pos)) {
        const end = s.indexOf('?>', this.pos);
        if (end < 0) this.fail('unterminated XML declaration');
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  private element(depth: number): XmlElement {
    const s = this.s;
    const offset = this.pos;
    if (depth > this.maxDepth) this.fail(`elements nest deeper than ${this.maxDepth}`);
    this.pos++; // '<'
    const name = this.match(NAME) ?? this.fail('expected an element name');
    const attrs = new Map<string, string>();
    for (;;) {
      ATTR.lastIndex = this.pos;
      const m = ATTR.exec(s);
      if (!m) break;
      if (attrs.has(m[1]!)) this.fail(`duplicate attribute '${m[1]}'`);
      attrs.set(m[1]!, this.unescape(m[3] ?? m[4]!));
      this.pos = ATTR.lastIndex;
    }
    while (/\s/.test(s[this.pos] ?? '')) this.pos++;
    const el: XmlElement = { name, attrs, children: [], offset };
    if (s.startsWith('/>', this.pos)) {
      this.pos += 2;
      return el;
    }
    if (s[this.pos] !== '>') this.fail(`malformed start tag <${name}>`);
    this.pos++;
    for (;;) {
      // Character data between elements carries nothing in this encoding.
      const lt = s.indexOf('<', this.pos);
      if (lt < 0) this.fail(`<${name}> is not closed`);
      this.pos = lt;
      if (s.startsWith('</', lt)) {
        this.pos += 2;
        const close = this.match(NAME);
        if (close !== name) this.fail(`</${close ?? ''}> closes <${name}>`);
        while (/\s/.test(s[this.pos] ?? '')) this.pos++;
        if (s[this.pos] !== '>') this.fail(`malformed end tag </${name}>`);
        this.pos++;
        return el;
      }
      if (s.startsWith('<!--', lt)) {
        this.skipMisc(false);
        continue;
      }
      if (s.startsWith('<!', lt) || s.startsWith('<?', lt)) {
        this.fail('DTDs, CDATA and processing instructions are not supported');
      }
      el.children.push(this.element(depth + 1));
    }
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    if (!m) return undefined;
    this.pos = re.lastIndex;
    return m[0];
  }

  private unescape(v: string): string {
    if (v.includes('<')) this.fail("'<' in an attribute value");
    return v.replace(
      /&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);|&/g,
      (all, ref: string | undefined) => {
        if (ref === undefined) this.fail(`bare '&' in an attribute value`);
        switch (ref) {
          case 'amp':
            return '&';
          case 'lt':
            return '<';
          case 'gt':
            return '>';
          case 'quot':
            return '"';
          case 'apos':
            return "'";
        }
        const code = ref![1] === 'x' ? parseInt(ref!.slice(2), 16) : parseInt(ref!.slice(1), 10);
        if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
          this.fail(`bad character reference ${all}`);
        return String.fromCodePoint(code);
      },
    );
  }

  private fail(what: string): never {
    const line = this.s.slice(0, this.pos).split('\n').length;
    throw new TtlvError(`XML line ${line}: ${what}`);
  }
}
