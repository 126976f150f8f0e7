// The KMIP JSON encoding of TTLV (kmip.md §9): {"tag", "type", "value"} per item, tags and
// enumerations by spec name, structures' "type" omitted.
import { TtlvError } from './error';
import { ItemType, type TtlvItem } from './item';
import { LATEST_VERSION, type KmipVersion } from './names';
import { Tag } from './tags';
import { headerVersion, isHeader, messageVersion, siblingAttributeName } from './text-context';
import {
  TYPE_NAMES,
  formatScalar,
  formatTag,
  parseScalar,
  parseTag,
  type JsonScalar,
  type TextContext,
} from './text-values';

export interface JsonItem {
  tag: string;
  type?: string;
  value: JsonScalar | JsonItem[];
}

const MASK_SEPARATOR = '|';

/** The JSON form of `item`; enumeration names follow the message's (or `version`'s) KMIP version. */
export function ttlvToJson(item: TtlvItem, version?: KmipVersion): JsonItem {
  return toJson(item, { version: version ?? messageVersion(item) });
}

function toJson(item: TtlvItem, ctx: TextContext): JsonItem {
  if (item.type === ItemType.Structure) {
    const name = siblingAttributeName(item.value);
    const value = item.value.map((child) =>
      toJson(child, { version: ctx.version, attributeName: name }),
    );
    return { tag: formatTag(item.tag), value };
  }
  return {
    tag: formatTag(item.tag),
    type: ItemType[item.type],
    value: formatScalar(item, ctx, MASK_SEPARATOR),
  };
}

/** Parse the JSON form (an object, or its text) back to an item. Throws TtlvError only. */
export function jsonToTtlv(json: unknown, version?: KmipVersion): TtlvItem {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new TtlvError(`not JSON: ${(err as Error).message}`);
    }
  }
  const state = { version: version ?? LATEST_VERSION, depth: 0 };
  return fromJson(value, state, undefined, '');
}

interface ParseState {
  version: KmipVersion;
  depth: number;
}

function fromJson(
  j: unknown,
  state: ParseState,
  attributeName: string | undefined,
  parent: string,
): TtlvItem {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) {
    throw new TtlvError(`${parent || '/'}: item must be an object with tag, type and value`);
  }
  const { tag: tagText, type: typeText, value } = j as Record<string, unknown>;
  if (typeof tagText !== 'string') throw new TtlvError(`${parent || '/'}: item has no tag`);
  const path = `${parent}/${tagText}`;
  const tag = parseTag(tagText, path);
  const type = typeText === undefined ? ItemType.Structure : TYPE_NAMES[String(typeText)];
  if (type === undefined || typeof typeText === 'number') {
    throw new TtlvError(`${path}: unknown type ${JSON.stringify(typeText)}`, -1, tag);
  }
  if (type !== ItemType.Structure) {
    return parseScalar(tag, type, value, { version: state.version, attributeName }, path);
  }
  if (!Array.isArray(value))
    throw new TtlvError(`${path}: Structure value must be an array`, -1, tag);
  if (++state.depth > 64) throw new TtlvError(`${path}: structures nest deeper than 64`, -1, tag);
  const children: TtlvItem[] = [];
  let name: string | undefined;
  for (const child of value) {
    const item = fromJson(child, state, name, path);
    if (item.tag === Tag.AttributeName && item.type === ItemType.TextString) name = item.value;
    children.push(item);
  }
  state.depth--;
  const item: TtlvItem = { tag, type: ItemType.Structure, value: children };
  if (isHeader(tag)) state.version = headerVersion(item) ?? state.version;
  return item;
}
