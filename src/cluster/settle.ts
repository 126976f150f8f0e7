// Services that chain their work on one promise (`this.job = this.job.then(…)`) settle
// when that chain stops growing: work queued while waiting is waited for too.

/** Resolves once the promise `current()` returns is settled and no newer one replaced it. */
export async function settleChain(current: () => Promise<unknown>): Promise<void> {
  let seen: Promise<unknown>;
  do {
    seen = current();
    await seen;
  } while (seen !== current());
}
