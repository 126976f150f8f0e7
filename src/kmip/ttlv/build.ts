// Builders and readers that keep KMIP message trees legible at the call site:
//   struct(Tag.RequestPayload, [text(Tag.UniqueIdentifier, uid)])
import { ItemType, type StructureItem, type TtlvItem } from './item';

export function struct(tag: number, children: TtlvItem[]): StructureItem {
  return { tag, type: ItemType.Structure, value: children };
}
/** Integer (signed 32-bit). */
export function int(tag: number, value: number): TtlvItem {
  return { tag, type: ItemType.Integer, value };
}
/** Long Integer (signed 64-bit). */
export function long(tag: number, value: bigint | number): TtlvItem {
  return { tag, type: ItemType.LongInteger, value: BigInt(value) };
}
/** Big Integer (two's complement, any size). */
export function bigInteger(tag: number, value: bigint): TtlvItem {
  return { tag, type: ItemType.BigInteger, value };
}
/** Enumeration (unsigned 32-bit). */
export function enumv(tag: number, value: number): TtlvItem {
  return { tag, type: ItemType.Enumeration, value };
}
export function bool(tag: number, value: boolean): TtlvItem {
  return { tag, type: ItemType.Boolean, value };
}
export function text(tag: number, value: string): TtlvItem {
  return { tag, type: ItemType.TextString, value };
}
export function bytes(tag: number, value: Buffer): TtlvItem {
  return { tag, type: ItemType.ByteString, value };
}
/** Date-Time from a Date or POSIX seconds. */
export function dateTime(tag: number, value: Date | number | bigint): TtlvItem {
  const secs = value instanceof Date ? BigInt(Math.floor(value.getTime() / 1000)) : BigInt(value);
  return { tag, type: ItemType.DateTime, value: secs };
}
/** Date-Time Extended (2.0+) from POSIX microseconds. */
export function dateTimeExtended(tag: number, micros: bigint): TtlvItem {
  return { tag, type: ItemType.DateTimeExtended, value: micros };
}
/** Interval in seconds (unsigned 32-bit). */
export function interval(tag: number, seconds: number): TtlvItem {
  return { tag, type: ItemType.Interval, value: seconds };
}

/** The first child of structure `item` with `tag`, or undefined (also for non-structures). */
export function find(item: TtlvItem | undefined, tag: number): TtlvItem | undefined {
  if (item?.type !== ItemType.Structure) return undefined;
  for (const child of item.value) if (child.tag === tag) return child;
  return undefined;
}

/** Every child of structure `item` with `tag`, in order. */
export function findAll(item: TtlvItem | undefined, tag: number): TtlvItem[] {
  if (item?.type !== ItemType.Structure) return [];
  return item.value.filter((child) => child.tag === tag);
}
