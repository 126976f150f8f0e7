// Request and Response Message envelopes: header, batch items, Unique Batch Item IDs.
// Both directions, so the client and the dev key server share one reading of the spec.
import {
  ItemType,
  Tag,
  bytes,
  dateTime,
  enumv,
  find,
  findAll,
  int,
  struct,
  text,
  type KmipVersion,
  type TtlvItem,
} from '../ttlv';

export interface RequestBatchItem {
  operation: number;
  /** Required when a message carries more than one item. */
  batchId?: Buffer;
  payload: TtlvItem;
}

/** Batch Error Continuation Option; the spec's default is Stop. */
export const BatchContinue = { Continue: 1, Stop: 2, Undo: 3 } as const;

export interface RequestMessage {
  version: KmipVersion;
  maximumResponseSize?: number;
  /** What the server does after a failed item: Continue 1, Stop 2 (default), Undo 3. */
  batchErrorContinuation?: number;
  items: RequestBatchItem[];
}

export interface ResponseBatchItem {
  /** Absent when the server could not parse the request. */
  operation?: number;
  batchId?: Buffer;
  resultStatus: number;
  resultReason?: number;
  resultMessage?: string;
  payload?: TtlvItem;
}

export interface ResponseMessage {
  version: KmipVersion;
  timeStamp?: bigint;
  items: ResponseBatchItem[];
}

/** Thrown when a message does not have the shape the spec requires. */
export class MessageFormatError extends Error {
  override name = 'MessageFormatError';
}

function versionItem(v: KmipVersion): TtlvItem {
  return struct(Tag.ProtocolVersion, [
    int(Tag.ProtocolVersionMajor, v.major),
    int(Tag.ProtocolVersionMinor, v.minor),
  ]);
}

export function encodeRequest(msg: RequestMessage): TtlvItem {
  // No Time Stamp: servers reject any clock skew ahead of theirs (PyKMIP: "Future request").
  const header: TtlvItem[] = [versionItem(msg.version)];
  if (msg.maximumResponseSize !== undefined) {
    header.push(int(Tag.MaximumResponseSize, msg.maximumResponseSize));
  }
  if (msg.batchErrorContinuation !== undefined) {
    header.push(enumv(Tag.BatchErrorContinuationOption, msg.batchErrorContinuation));
  }
  header.push(int(Tag.BatchCount, msg.items.length));
  return struct(Tag.RequestMessage, [
    struct(Tag.RequestHeader, header),
    ...msg.items.map((it) =>
      struct(Tag.BatchItem, [
        enumv(Tag.Operation, it.operation),
        ...(it.batchId ? [bytes(Tag.UniqueBatchItemID, it.batchId)] : []),
        it.payload,
      ]),
    ),
  ]);
}

export function encodeResponse(msg: ResponseMessage): TtlvItem {
  const now = msg.timeStamp ?? BigInt(Math.floor(Date.now() / 1000));
  return struct(Tag.ResponseMessage, [
    struct(Tag.ResponseHeader, [
      versionItem(msg.version),
      dateTime(Tag.TimeStamp, now),
      int(Tag.BatchCount, msg.items.length),
    ]),
    ...msg.items.map((it) => {
      const children: TtlvItem[] = [];
      if (it.operation !== undefined) children.push(enumv(Tag.Operation, it.operation));
      if (it.batchId) children.push(bytes(Tag.UniqueBatchItemID, it.batchId));
      children.push(enumv(Tag.ResultStatus, it.resultStatus));
      if (it.resultReason !== undefined) children.push(enumv(Tag.ResultReason, it.resultReason));
      if (it.resultMessage !== undefined) children.push(text(Tag.ResultMessage, it.resultMessage));
      if (it.payload) children.push(it.payload);
      return struct(Tag.BatchItem, children);
    }),
  ]);
}

function need(item: TtlvItem | undefined, what: string, type: ItemType): TtlvItem {
  if (!item) throw new MessageFormatError(`missing ${what}`);
  if (item.type !== type) throw new MessageFormatError(`${what} has the wrong type`);
  return item;
}

function numberOf(item: TtlvItem | undefined, what: string, type: ItemType): number {
  return need(item, what, type).value as number;
}

function optional<T>(item: TtlvItem | undefined, what: string, type: ItemType): T | undefined {
  return item ? (need(item, what, type).value as T) : undefined;
}

function readVersion(header: TtlvItem): KmipVersion {
  const v = need(find(header, Tag.ProtocolVersion), 'Protocol Version', ItemType.Structure);
  return {
    major: numberOf(find(v, Tag.ProtocolVersionMajor), 'Protocol Version Major', ItemType.Integer),
    minor: numberOf(find(v, Tag.ProtocolVersionMinor), 'Protocol Version Minor', ItemType.Integer),
  };
}

function checkCount(header: TtlvItem, items: unknown[]): void {
  const count = numberOf(find(header, Tag.BatchCount), 'Batch Count', ItemType.Integer);
  if (count !== items.length) {
    throw new MessageFormatError(`Batch Count ${count} but ${items.length} batch items`);
  }
}

export function decodeResponse(msg: TtlvItem): ResponseMessage {
  if (msg.tag !== Tag.ResponseMessage) throw new MessageFormatError('not a Response Message');
  const header = need(find(msg, Tag.ResponseHeader), 'Response Header', ItemType.Structure);
  const items = findAll(msg, Tag.BatchItem).map((bi) => ({
    operation: optional<number>(find(bi, Tag.Operation), 'Operation', ItemType.Enumeration),
    batchId: optional<Buffer>(
      find(bi, Tag.UniqueBatchItemID),
      'Unique Batch Item ID',
      ItemType.ByteString,
    ),
    resultStatus: numberOf(find(bi, Tag.ResultStatus), 'Result Status', ItemType.Enumeration),
    resultReason: optional<number>(
      find(bi, Tag.ResultReason),
      'Result Reason',
      ItemType.Enumeration,
    ),
    resultMessage: optional<string>(
      find(bi, Tag.ResultMessage),
      'Result Message',
      ItemType.TextString,
    ),
    payload: find(bi, Tag.ResponsePayload),
  }));
  checkCount(header, items);
  return {
    version: readVersion(header),
    timeStamp: optional<bigint>(find(header, Tag.TimeStamp), 'Time Stamp', ItemType.DateTime),
    items,
  };
}

export function decodeRequest(msg: TtlvItem): RequestMessage {
  if (msg.tag !== Tag.RequestMessage) throw new MessageFormatError('not a Request Message');
  const header = need(find(msg, Tag.RequestHeader), 'Request Header', ItemType.Structure);
  const items = findAll(msg, Tag.BatchItem).map((bi) => ({
    operation: numberOf(find(bi, Tag.Operation), 'Operation', ItemType.Enumeration),
    batchId: optional<Buffer>(
      find(bi, Tag.UniqueBatchItemID),
      'Unique Batch Item ID',
      ItemType.ByteString,
    ),
    payload: need(find(bi, Tag.RequestPayload), 'Request Payload', ItemType.Structure),
  }));
  checkCount(header, items);
  if (items.length > 1 && items.some((it) => !it.batchId)) {
    throw new MessageFormatError('Unique Batch Item ID is required in a batch');
  }
  return {
    version: readVersion(header),
    maximumResponseSize: optional<number>(
      find(header, Tag.MaximumResponseSize),
      'Maximum Response Size',
      ItemType.Integer,
    ),
    batchErrorContinuation: optional<number>(
      find(header, Tag.BatchErrorContinuationOption),
      'Batch Error Continuation Option',
      ItemType.Enumeration,
    ),
    items,
  };
}
