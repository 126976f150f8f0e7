// One batched exchange on one connection: encode the ops as one Request Message, match
// the Response's batch items back by Unique Batch Item ID, decode each item's payload.
import { ResultReason, ResultStatus, decodeTtlv, encodeTtlv, type KmipVersion } from '../ttlv';
import {
  BatchContinue,
  decodeResponse,
  encodeRequest,
  type BatchOp,
  type ResponseBatchItem,
} from '../messages';
import type { KmipConnection } from './connection';
import { KmipError } from './errors';

export type ItemResult<V> = { ok: true; value: V } | { ok: false; error: KmipError };

export type ResultsOf<T extends readonly BatchOp<unknown>[]> = {
  -readonly [K in keyof T]: T[K] extends BatchOp<infer V> ? ItemResult<V> : never;
};

export interface BatchOutcome<T extends readonly BatchOp<unknown>[]> {
  /** The endpoint that answered. */
  endpoint: string;
  version: KmipVersion;
  results: ResultsOf<T>;
}

function batchId(i: number): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(i + 1);
  return id;
}

function itemError(endpoint: string, op: string, item: ResponseBatchItem): KmipError {
  const reason = item.resultReason;
  const stage = reason === ResultReason.AuthenticationNotSuccessful ? 'auth' : 'kmip';
  const reasonName =
    reason === undefined ? 'no reason' : (reasonNames.get(reason) ?? `reason ${reason}`);
  const text = item.resultMessage ? `: ${item.resultMessage}` : '';
  return new KmipError(stage, `${op} failed (${reasonName})${text}`, {
    endpoint,
    resultReason: reason,
    resultStatus: item.resultStatus,
  });
}

const reasonNames = new Map(
  Object.entries(ResultReason).map(([name, v]) => [
    v as number,
    name.replace(/([a-z])([A-Z])/g, '$1 $2'),
  ]),
);

/**
 * Exchange ops in one message. Throws KmipError for failures of the whole message (no
 * answer, garbled answer, or a failure the server could not tie to an operation, such
 * as a rejected client certificate); failures of single operations come back per item.
 */
export async function runBatch<T extends readonly BatchOp<unknown>[]>(
  conn: KmipConnection,
  version: KmipVersion,
  ops: T,
  timeoutMs: number,
): Promise<ResultsOf<T>> {
  const endpoint = conn.endpoint;
  const many = ops.length > 1;
  const request = encodeTtlv(
    encodeRequest({
      version,
      // One item's failure (an unknown UID) must not cost the others their answers.
      ...(many ? { batchErrorContinuation: BatchContinue.Continue } : {}),
      items: ops.map((op, i) => ({
        operation: op.operation,
        ...(many ? { batchId: batchId(i) } : {}),
        payload: op.encode(version),
      })),
    }),
  );
  const frame = await conn.exchange(request, timeoutMs);
  try {
    let items: ResponseBatchItem[];
    try {
      items = decodeResponse(decodeTtlv(frame, { maxBytes: frame.length })).items;
    } catch (err) {
      conn.close();
      throw new KmipError('response', `malformed response: ${(err as Error).message}`, {
        endpoint,
      });
    }
    const whole = items.length === 1 && items[0]!.operation === undefined ? items[0]! : undefined;
    if (whole && whole.resultStatus !== ResultStatus.Success) {
      throw itemError(endpoint, 'request', whole);
    }
    // Items by batch ID, built once: a find per op is quadratic at a thousand keys.
    const byBatchId = new Map<string, ResponseBatchItem>();
    if (many) for (const it of items) if (it.batchId) byBatchId.set(it.batchId.toString('hex'), it);
    return ops.map((op, i) => {
      const item = many
        ? (byBatchId.get(batchId(i).toString('hex')) ??
          (items[i] && !items[i]!.batchId ? items[i] : undefined))
        : items.length === 1
          ? items[0]
          : undefined;
      if (!item) {
        return {
          ok: false,
          error: new KmipError('response', `${op.label}: no result in the response`, { endpoint }),
        };
      }
      if (item.resultStatus !== ResultStatus.Success) {
        return { ok: false, error: itemError(endpoint, op.label, item) };
      }
      try {
        return { ok: true, value: op.decode(item.payload, version) };
      } catch (err) {
        const msg = `${op.label}: malformed response payload: ${(err as Error).message}`;
        return { ok: false, error: new KmipError('response', msg, { endpoint }) };
      }
    }) as ResultsOf<T>;
  } finally {
    // Key material was copied out by the decoders; wipe the received message.
    frame.fill(0);
  }
}
