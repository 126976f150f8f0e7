// The order every backend lists keys in: by their UTF-8 bytes, as SQLite's BINARY
// collation and etcd's key ranges sort them. JavaScript's own string order (UTF-16 code
// units) differs only where a character from U+E000 to U+FFFF meets one past U+FFFF, so
// the strings are compared as they are, without encoding them.

/** Negative, zero or positive as `a` sorts before, with or after `b` in UTF-8 byte order. */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // A surrogate starts a character past U+FFFF, which UTF-8 sorts after U+E000..U+FFFF.
    if (xs && !ys && y >= 0xe000) return 1;
    if (ys && !xs && x >= 0xe000) return -1;
    return x - y;
  }
  return a.length - b.length;
}
