// A reply's JSON text, produced a piece at a time: the walk descends into plain objects
// and arrays and serializes each array element whole with JSON.stringify when its turn
// comes, so a large list is never one string or one Buffer. The text is byte for byte
// JSON.stringify's (undefined members omitted, undefined in arrays as null, toJSON called
// with its key, boxed primitives unwrapped, non-finite numbers as null).
import { isBigIntObject, isBooleanObject, isNumberObject, isStringObject } from 'node:util/types';

/** The size of a piece of a reply, and of a write to the client's socket. */
export const WRITE_PIECE_BYTES = 64 * 1024;

/**
 * The JSON text of `value` as Buffers of at most `pieceBytes`, each produced when asked
 * for: as many serialized parts as fit, a part larger than a piece cut across pieces.
 * Nothing for a value JSON.stringify gives no text for (undefined, a function).
 */
export function* jsonPieces(value: unknown, pieceBytes = WRITE_PIECE_BYTES): Generator<Buffer> {
  let parts: string[] = [];
  let size = 0;
  for (const text of jsonText(value)) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (size > 0 && size + bytes > pieceBytes) {
      yield* cut(parts.join(''), pieceBytes);
      parts = [];
      size = 0;
    }
    parts.push(text);
    size += bytes;
  }
  if (size > 0) yield* cut(parts.join(''), pieceBytes);
}

function cut(text: string, pieceBytes: number): Generator<Buffer> {
  return inPieces(Buffer.from(text, 'utf8'), pieceBytes);
}

/** `bytes` as views of at most `pieceBytes` each. */
export function* inPieces(bytes: Buffer, pieceBytes = WRITE_PIECE_BYTES): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += pieceBytes) {
    yield bytes.subarray(at, at + pieceBytes);
  }
}

/**
 * Whether `value` is plain data whose JSON likely fits one piece, told by a walk that
 * counts about a byte a character and gives up early: a small reply is then serialized
 * whole, the cheaper way for it (escapes and multi-byte characters can make it larger).
 */
export function isSmallJson(value: unknown, pieceBytes = WRITE_PIECE_BYTES): boolean {
  return hasText(value) && withinBudget(value, pieceBytes, 0) >= 0;
}

/**
 * What is left of `budget` after `value`, or -1 past it or at anything not plain, or
 * nested deeper than MAX_DEPTH (a cycle among them).
 */
function withinBudget(value: unknown, budget: number, depth: number): number {
  switch (typeof value) {
    case 'string':
      return budget - value.length - 2;
    case 'number':
      return budget - 8;
    case 'boolean':
    case 'undefined':
      return budget - 5;
    case 'object': {
      if (value === null) return budget - 4;
      if (depth === MAX_DEPTH) return -1;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (Array.isArray(value)) {
        if (proto !== Array.prototype) return -1;
        budget -= 2;
        for (let i = 0; i < value.length && budget >= 0; i++) {
          budget = withinBudget(value[i], budget - 1, depth + 1);
        }
        return budget;
      }
      if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value) return -1;
      budget -= 2;
      for (const key in value) {
        if (budget < 0) break;
        if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
        const member = (value as Record<string, unknown>)[key];
        budget = withinBudget(member, budget - key.length - 4, depth + 1);
      }
      return budget;
    }
    default:
      return -1; // a function, a symbol or a BigInt: left to the walk
  }
}

const MAX_DEPTH = 32;

/** JSON.stringify(value) in parts, in order. */
export function* jsonText(value: unknown): Generator<string> {
  const resolved = resolve(value, '');
  if (hasText(resolved)) yield* serialize(resolved, new Set());
}

/** `within`: the objects being walked, to refuse a cycle as JSON.stringify does. */
function* serialize(value: unknown, within: Set<object>): Generator<string> {
  if (typeof value !== 'object' || value === null) return yield primitive(value);
  if (within.has(value)) throw new TypeError('Converting circular structure to JSON');
  within.add(value);
  if (Array.isArray(value)) yield* array(value, within);
  else yield* object(value as Record<string, unknown>, within);
  within.delete(value);
}

function* object(value: Record<string, unknown>, within: Set<object>): Generator<string> {
  let open = '{';
  for (const key of Object.keys(value)) {
    const member = resolve(value[key], key);
    if (!hasText(member)) continue;
    yield `${open}${JSON.stringify(key)}:`;
    open = ',';
    yield* serialize(member, within);
  }
  yield open === '{' ? '{}' : '}';
}

function* array(value: unknown[], within: Set<object>): Generator<string> {
  const length = value.length;
  if (length === 0) return yield '[]';
  for (let i = 0; i < length; i++) {
    const element = resolve(value[i], String(i));
    yield i === 0 ? '[' : ',';
    if (!hasText(element)) yield 'null';
    // An element whose own toJSON was just called is walked: JSON.stringify would call it
    // again. JSON.stringify refuses a cycle back to an ancestor too: the ancestor holds
    // the element.
    else if (typeof element === 'object' && element !== null && !ownToJSON(element)) {
      yield JSON.stringify(element);
    } else yield* serialize(element, within);
  }
  yield ']';
}

/** What JSON.stringify serializes in place of `value` held under `key`. */
function resolve(value: unknown, key: string): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, key);
  }
  if (typeof value !== 'object' || value === null) return value;
  if (isNumberObject(value)) return Number(value);
  if (isStringObject(value)) return String(value);
  // The wrapped value itself, whatever valueOf the object may have.
  if (isBooleanObject(value)) return Boolean.prototype.valueOf.call(value);
  if (isBigIntObject(value)) return BigInt.prototype.valueOf.call(value);
  return value;
}

function hasText(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}

function ownToJSON(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

function primitive(value: unknown): string {
  if (typeof value === 'bigint') throw new TypeError('Do not know how to serialize a BigInt');
  return JSON.stringify(value);
}
