// KMIP TTLV codec: binary TTLV both ways, tag and enumeration tables, tree builders, and
// the KMIP JSON/XML text encodings.
export * from './item';
export { TtlvError } from './error';
export {
  decodeTtlv,
  ttlvMessageLength,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  type DecodeOptions,
} from './decode';
export { encodeTtlv } from './encode';
export { Tag, tagName, tagNumber, type TagName } from './tags';
export * from './enums';
export {
  enumName,
  enumValue,
  maskNames,
  maskValue,
  hasEnumeration,
  isMaskTag,
  LATEST_VERSION,
  type KmipVersion,
} from './names';
export * from './build';
export { ttlvToJson, jsonToTtlv, type JsonItem } from './json';
export { ttlvToXml, xmlToTtlv, xmlToTtlvList } from './xml';
export { messageVersion } from './text-context';
