// The decoded form of one TTLV item. Shared contract between the codec, the text
// encodings, the KMIP client and the dev key server.

/** Item types (KMIP 1.x §9.1.1.2, 2.x §10.1.1.2). */
export enum ItemType {
  Structure = 0x01,
  Integer = 0x02,
  LongInteger = 0x03,
  BigInteger = 0x04,
  Enumeration = 0x05,
  Boolean = 0x06,
  TextString = 0x07,
  ByteString = 0x08,
  DateTime = 0x09,
  Interval = 0x0a,
  DateTimeExtended = 0x0b,
}

interface Base<T extends ItemType, V> {
  /** 24-bit tag, e.g. 0x420078 (RequestMessage). */
  tag: number;
  type: T;
  value: V;
}

export type StructureItem = Base<ItemType.Structure, TtlvItem[]>;
/** Integer (signed 32), Enumeration (unsigned 32), Interval (unsigned 32, seconds). */
export type NumberItem = Base<ItemType.Integer | ItemType.Enumeration | ItemType.Interval, number>;
/**
 * Long Integer (signed 64), Big Integer (two's complement, any length), Date-Time
 * (signed 64, seconds since the epoch), Date-Time Extended (signed 64, microseconds).
 */
export type BigIntItem = Base<
  ItemType.LongInteger | ItemType.BigInteger | ItemType.DateTime | ItemType.DateTimeExtended,
  bigint
>;
export type BooleanItem = Base<ItemType.Boolean, boolean>;
export type TextItem = Base<ItemType.TextString, string>;
export type BytesItem = Base<ItemType.ByteString, Buffer>;

export type TtlvItem = StructureItem | NumberItem | BigIntItem | BooleanItem | TextItem | BytesItem;
