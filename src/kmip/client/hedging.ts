// Which requests may go to a second key server while the first still holds them, and how
// long to wait before starting the next server (RFC 8305's Connection Attempt Delay, and
// its counterpart for a request a connected server has not answered).
import { Operation } from '../ttlv';
import type { BatchOp } from '../messages';

/**
 * Operations that only read: asking a second server for the same thing changes nothing
 * anywhere. Everything else (Create, Register, Activate, Revoke, Destroy, …) is sent to one
 * server at a time: only the connection race applies to it.
 */
const READ_ONLY: ReadonlySet<number> = new Set([
  Operation.Get,
  Operation.GetAttributes,
  Operation.GetAttributeList,
  Operation.Locate,
  Operation.Query,
  Operation.DiscoverVersions,
]);

/** Whether every operation of the batch only reads, so that the batch may be hedged. */
export const isHedgeable = (ops: readonly BatchOp<unknown>[]): boolean =>
  ops.length > 0 && ops.every((op) => READ_ONLY.has(op.operation));

/** RFC 8305's recommended Connection Attempt Delay. */
export const CONNECT_ATTEMPT_DELAY_MS = 250;
/** RFC 8305's upper bound for a delay derived from observed round trips. */
export const MAX_ATTEMPT_DELAY_MS = 2000;
/** Allowance for the server's own work per item of a batch (a thousand Gets: one second). */
const PER_ITEM_MS = 1;

/**
 * How long a connected server may take to answer a batch of `items` before the request
 * also goes to the next server: four times what making its connection took (TCP and TLS:
 * two round trips and the server's handshake work), at least the connect delay, plus an
 * allowance per item; at most MAX_ATTEMPT_DELAY_MS plus that allowance.
 */
export function hedgeDelayMs(handshakeMs: number, items: number, floorMs: number): number {
  const rtt = Math.min(Math.max(4 * handshakeMs, floorMs), MAX_ATTEMPT_DELAY_MS);
  return Math.round(rtt + PER_ITEM_MS * items);
}
