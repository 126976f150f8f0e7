// The KMIP XML encoding of TTLV (kmip.md §9, as in the OASIS test vectors):
// <Tag type="Type" value="…"/>, structures as nested elements, unknown tags as
// <TTLV tag="0x54XXXX" …>, masks as space-separated names, Big Integers as bare hex.
import { TtlvError } from './error';
import { ItemType, type TtlvItem } from './item';
import { LATEST_VERSION, type KmipVersion } from './names';
import { Tag, tagName } from './tags';
import { headerVersion, isHeader, messageVersion, siblingAttributeName } from './text-context';
import { TYPE_NAMES, formatScalar, parseScalar, parseTag, type TextContext } from './text-values';
import { parseXml, type XmlElement } from './xml-parse';

const MASK_SEPARATOR = ' ';
/** Element name for a tag the tables do not know. */
const UNKNOWN_TAG_ELEMENT = 'TTLV';

/** The XML form of `item`, indented by two spaces per level, ending in a newline. */
export function ttlvToXml(item: TtlvItem, version?: KmipVersion): string {
  const out: string[] = [];
  write(item, { version: version ?? messageVersion(item) }, '', out);
  return out.join('');
}

function write(item: TtlvItem, ctx: TextContext, indent: string, out: string[]): void {
  const known = tagName(item.tag);
  const name = known ?? UNKNOWN_TAG_ELEMENT;
  const tagAttr = known ? '' : ` tag="0x${item.tag.toString(16).toUpperCase().padStart(6, '0')}"`;
  if (item.type === ItemType.Structure) {
    const typeAttr = known ? '' : ' type="Structure"';
    if (item.value.length === 0) {
      out.push(`${indent}<${name}${tagAttr}${typeAttr}/>\n`);
      return;
    }
    out.push(`${indent}<${name}${tagAttr}${typeAttr}>\n`);
    const attributeName = siblingAttributeName(item.value);
    for (const child of item.value) {
      write(child, { version: ctx.version, attributeName }, indent + '  ', out);
    }
    out.push(`${indent}</${name}>\n`);
    return;
  }
  let value = formatScalar(item, ctx, MASK_SEPARATOR);
  if (item.type === ItemType.BigInteger) value = String(value).slice(2);
  out.push(
    `${indent}<${name}${tagAttr} type="${ItemType[item.type]}" value="${escape(String(value))}"/>\n`,
  );
}

function escape(v: string): string {
  return v.replace(/[&<>"\u0000-\u001f\u007f]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;
    }
  });
}

/** Parse one message (or item) in the XML encoding. A <KMIP> root must hold exactly one. */
export function xmlToTtlv(xml: string, version?: KmipVersion): TtlvItem {
  const root = parseXml(xml);
  if (root.name === 'KMIP') {
    if (root.children.length !== 1) {
      throw new TtlvError(`<KMIP> holds ${root.children.length} messages; expected one`);
    }
    return fromElement(root.children[0]!, newState(version), undefined, '');
  }
  return fromElement(root, newState(version), undefined, '');
}

/** Every message under a <KMIP> root (the OASIS test vector layout), in order. */
export function xmlToTtlvList(xml: string, version?: KmipVersion): TtlvItem[] {
  const root = parseXml(xml);
  if (root.name !== 'KMIP') throw new TtlvError(`root element is <${root.name}>, not <KMIP>`);
  const state = newState(version);
  return root.children.map((el) => fromElement(el, state, undefined, ''));
}

interface ParseState {
  version: KmipVersion;
}

function newState(version: KmipVersion | undefined): ParseState {
  return { version: version ?? LATEST_VERSION };
}

function fromElement(
  el: XmlElement,
  state: ParseState,
  attributeName: string | undefined,
  parent: string,
): TtlvItem {
  const tagAttr = el.attrs.get('tag');
  const tagText = el.name === UNKNOWN_TAG_ELEMENT && tagAttr !== undefined ? tagAttr : el.name;
  const path = `${parent}/${tagText}`;
  const tag = parseTag(tagText, path);
  const typeText = el.attrs.get('type');
  const type = typeText === undefined ? ItemType.Structure : TYPE_NAMES[typeText];
  if (type === undefined) throw new TtlvError(`${path}: unknown type '${typeText}'`, -1, tag);
  if (type !== ItemType.Structure) {
    if (el.children.length > 0)
      throw new TtlvError(`${path}: a ${typeText} has no children`, -1, tag);
    const raw = el.attrs.get('value');
    if (raw === undefined) throw new TtlvError(`${path}: missing value attribute`, -1, tag);
    const value = type === ItemType.BigInteger && !/^0x/i.test(raw) ? '0x' + raw : raw;
    return parseScalar(tag, type, value, { version: state.version, attributeName }, path);
  }
  if (el.attrs.has('value'))
    throw new TtlvError(`${path}: a Structure has no value attribute`, -1, tag);
  const children: TtlvItem[] = [];
  let name: string | undefined;
  for (const childEl of el.children) {
    const child = fromElement(childEl, state, name, path);
    if (child.tag === Tag.AttributeName && child.type === ItemType.TextString) name = child.value;
    children.push(child);
  }
  const item: TtlvItem = { tag, type: ItemType.Structure, value: children };
  if (isHeader(tag)) state.version = headerVersion(item) ?? state.version;
  return item;
}
