// Request observation for metrics: every KmipClient reports each message it exchanges
// (endpoint, operation, duration, outcome) to the listeners registered here. Module-wide,
// so clients made anywhere (API, boot unlock, hardware EAR) are seen without passing a
// hook through every caller; with no listener the cost is one size check per message.
import { Tag, enumName } from '../ttlv';
import type { BatchOp } from '../messages';

/** ok: every item succeeded; partial: the message was answered, some items failed;
 *  failed: no answer (connect, TLS, timeout, garbled or refused message). */
export type KmipRequestResult = 'ok' | 'partial' | 'failed';

export interface KmipRequestEvent {
  /** "host:port" that answered or was tried last. */
  endpoint: string;
  /** The operation's KMIP name, or "Batch" for a message mixing operations. */
  operation: string;
  ms: number;
  result: KmipRequestResult;
}

export type KmipRequestListener = (event: KmipRequestEvent) => void;

const listeners = new Set<KmipRequestListener>();

/** Calls `fn` after every KMIP message any client sends; returns the unsubscribe. */
export function onKmipRequest(fn: KmipRequestListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function observingKmipRequests(): boolean {
  return listeners.size > 0;
}

export function reportKmipRequest(event: KmipRequestEvent): void {
  for (const fn of listeners) {
    try {
      fn(event);
    } catch {
      // An observer's bug must not fail a key request.
    }
  }
}

/** The label of a message: its operation's name, or "Batch" when they differ. */
export function operationLabel(batch: readonly BatchOp<unknown>[]): string {
  const first = batch[0]?.operation;
  if (first === undefined) return 'None';
  if (batch.some((op) => op.operation !== first)) return 'Batch';
  return (enumName(Tag.Operation, first) ?? `0x${first.toString(16)}`).replace(/\s+/g, '');
}
