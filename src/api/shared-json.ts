// JSON serialized once and written by every reply that carries it. A list method whose
// elements are long-lived objects (a key server with its certificates, unchanged until
// someone edits it) puts shared serializations in its result; the reply is then written as
// pieces, its own text around the shared bytes, so a reply waiting for a slow client holds
// references rather than a copy of the whole list.
import { randomBytes } from 'node:crypto';

/** A value's JSON text, as bytes; stands for the value wherever a reply carries it. */
export class SharedJson {
  constructor(
    readonly value: object,
    readonly bytes: Buffer,
  ) {}

  /** Inside replyPieces a placeholder; anywhere else (a log, a test) the value itself. */
  toJSON(): unknown {
    if (!collecting) return this.value;
    return PLACEHOLDER + String(collecting.push(this) - 1);
  }
}

const cache = new WeakMap<object, SharedJson>();

/**
 * The value's serialization, made at the first call and reused while the same object is
 * passed; the caller must not change the object afterwards.
 */
export function sharedJson(value: object): SharedJson {
  let shared = cache.get(value);
  if (!shared) {
    const text = JSON.stringify(value);
    // Its own allocation: a slice of Buffer's pool would keep the pool's 8 KiB alive.
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
    bytes.write(text);
    shared = new SharedJson(value, bytes);
    cache.set(value, shared);
  }
  return shared;
}

// A NUL and 96 random bits that never leave the process: no string a client sends can
// be taken for a placeholder.
const PLACEHOLDER = `\u0000${randomBytes(12).toString('hex')}:`;
/** A placeholder as JSON.stringify writes it, up to its index (then the closing quote). */
const MARK_OPEN = JSON.stringify(PLACEHOLDER).slice(0, -1);
const COMMA = Buffer.from(',');
let collecting: SharedJson[] | undefined;

/** The JSON text of `reply` as pieces to write in order; shared bytes are not copied. */
export function replyPieces(reply: unknown): Buffer[] {
  const shared: SharedJson[] = [];
  collecting = shared;
  let text: string;
  try {
    text = JSON.stringify(reply);
  } finally {
    collecting = undefined;
  }
  if (shared.length === 0) return [Buffer.from(text, 'utf8')];
  const pieces: Buffer[] = [];
  const own = (from: number, to: number) => {
    if (to === from + 1 && text[from] === ',') pieces.push(COMMA);
    else if (to > from) pieces.push(Buffer.from(text.slice(from, to), 'utf8'));
  };
  let from = 0;
  shared.forEach((s, i) => {
    const mark = `${MARK_OPEN}${i}"`;
    const at = text.indexOf(mark, from);
    own(from, at);
    pieces.push(s.bytes);
    from = at + mark.length;
  });
  own(from, text.length);
  return pieces;
}
