// --wait for asynchronous methods: poll until done, noting each change on stderr.
import { UsageError } from '../../util/command';
import type { ApiClient, JsonObject } from './client';
import type { Context } from '../commands/subcommand';

const POLL_MS = 500;
export const DEFAULT_WAIT_SEC = 600;

export const waitFlags = {
  wait: { type: 'boolean', help: '--wait           show progress until the work is done' },
  timeout: {
    type: 'string',
    help: `--timeout SEC    give up waiting after SEC (default ${DEFAULT_WAIT_SEC})`,
  },
} as const;

export function waitDeadline(ctx: Context): number {
  const text = ctx.string('timeout');
  if (text === undefined) return Date.now() + DEFAULT_WAIT_SEC * 1000;
  if (!/^[1-9]\d{0,5}$/.test(text)) throw new UsageError(`bad --timeout '${text}' (seconds)`);
  return Date.now() + Number(text) * 1000;
}

/** Polls `probe` until it returns a value; throws once `deadline` passes. */
export async function pollUntil<T>(
  deadline: number,
  what: string,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  for (;;) {
    const done = await probe();
    if (done !== undefined) return done;
    if (Date.now() >= deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export interface AsyncResult extends JsonObject {
  status: 'running' | 'complete';
  resultType?: string;
  result?: unknown;
  error?: { name?: string; message?: string };
  details?: unknown;
}

/** Waits for an async handle to complete, then fetches it once more to release it. */
export async function waitForHandle(
  ctx: Context,
  api: ApiClient,
  asyncHandle: number,
  deadline: number,
): Promise<AsyncResult> {
  let last = '';
  await pollUntil(deadline, `async handle ${asyncHandle}`, async () => {
    const r = await api.call<AsyncResult>('GetAsyncResult', { asyncHandle, keepResult: true });
    const now = `${r.status}${r.details ? ` ${JSON.stringify(r.details)}` : ''}`;
    if (now !== last) ctx.note(`async handle ${asyncHandle}: ${now}`);
    last = now;
    return r.status === 'complete' ? r : undefined;
  });
  return api.call<AsyncResult>('GetAsyncResult', { asyncHandle });
}
