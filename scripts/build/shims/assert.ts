// The daemon bundle's `assert` for sonic-boom and thread-stream, which only call
// assert(value, message): node's assert module costs ~3 ms to load at every start.
function assert(value: unknown, message?: string): asserts value {
  if (value) return;
  const err = new Error(message ?? 'assertion failed') as Error & { code: string };
  err.code = 'ERR_ASSERTION';
  throw err;
}

export = assert;
