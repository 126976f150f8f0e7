// ItemType as literals for the codec's hot switches: a `const enum` is inlined at compile
// time, so decode and encode compare numbers instead of loading ItemType's properties.
export const enum T {
  Structure = 1,
  Integer = 2,
  LongInteger = 3,
  BigInteger = 4,
  Enumeration = 5,
  Boolean = 6,
  TextString = 7,
  ByteString = 8,
  DateTime = 9,
  Interval = 10,
  DateTimeExtended = 11,
}
