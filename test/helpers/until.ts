// Polls a condition another process or a watch makes true: resolves with the time it took,
// or fails naming what never happened.
export async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<number> {
  const start = Date.now();
  while (!(await ok())) {
    if (Date.now() - start > ms) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}
