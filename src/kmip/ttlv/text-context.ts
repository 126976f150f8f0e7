// The naming context of a message in the text encodings: its KMIP version (from the
// Request/Response Header) and, inside 1.x Attribute structures, the Attribute Name.
import { find } from './build';
import { ItemType, type TtlvItem } from './item';
import { LATEST_VERSION, type KmipVersion } from './names';
import { Tag } from './tags';

/** The Protocol Version of a Request/Response Header, if it has a well-formed one. */
export function headerVersion(header: TtlvItem): KmipVersion | undefined {
  const pv = find(header, Tag.ProtocolVersion);
  const major = find(pv, Tag.ProtocolVersionMajor);
  const minor = find(pv, Tag.ProtocolVersionMinor);
  if (major?.type !== ItemType.Integer || minor?.type !== ItemType.Integer) return undefined;
  return { major: major.value, minor: minor.value };
}

/** The version a message declares in its header; the latest known one otherwise. */
export function messageVersion(root: TtlvItem): KmipVersion {
  const header = find(root, Tag.RequestHeader) ?? find(root, Tag.ResponseHeader);
  return (header && headerVersion(header)) ?? LATEST_VERSION;
}

export function isHeader(tag: number): boolean {
  return tag === Tag.RequestHeader || tag === Tag.ResponseHeader;
}

/** The Attribute Name text among `siblings`, for naming their Attribute Value. */
export function siblingAttributeName(siblings: readonly TtlvItem[]): string | undefined {
  for (const s of siblings) {
    if (s.tag === Tag.AttributeName && s.type === ItemType.TextString) return s.value;
  }
  return undefined;
}
