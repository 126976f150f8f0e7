// Object attributes in both encodings (kmip.md §6): 1.x wraps each in Attribute{Attribute
// Name, Attribute Value}; 2.x writes each under its own tag inside Attributes. Custom
// attributes become "x-Name" (1.x) or vendor attributes with Vendor Identification "x" (2.x).
import {
  ItemType,
  Tag,
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
import { MessageFormatError } from './envelope';
import { isV2 } from './version';

export interface ObjectAttributes {
  uniqueIdentifier?: string;
  names?: string[];
  objectType?: number;
  cryptographicAlgorithm?: number;
  cryptographicLength?: number;
  cryptographicUsageMask?: number;
  /** 1.x only; dropped when encoding 2.x. */
  operationPolicyName?: string;
  objectGroups?: string[];
  state?: number;
  initialDate?: Date;
  activationDate?: Date;
  deactivationDate?: Date;
  /** Custom text attributes by name without the "x-" prefix. */
  custom?: Record<string, string>;
}

type Kind = 'text' | 'int' | 'enum' | 'date' | 'name';
type Key = Exclude<keyof ObjectAttributes, 'custom'>;

interface AttributeDef {
  key: Key;
  /** The 1.x Attribute Name. */
  name: string;
  tag: number;
  kind: Kind;
  multi: boolean;
  v1Only?: boolean;
}

export const ATTRIBUTES: readonly AttributeDef[] = [
  {
    key: 'uniqueIdentifier',
    name: 'Unique Identifier',
    tag: Tag.UniqueIdentifier,
    kind: 'text',
    multi: false,
  },
  { key: 'objectType', name: 'Object Type', tag: Tag.ObjectType, kind: 'enum', multi: false },
  {
    key: 'cryptographicAlgorithm',
    name: 'Cryptographic Algorithm',
    tag: Tag.CryptographicAlgorithm,
    kind: 'enum',
    multi: false,
  },
  {
    key: 'cryptographicLength',
    name: 'Cryptographic Length',
    tag: Tag.CryptographicLength,
    kind: 'int',
    multi: false,
  },
  {
    key: 'cryptographicUsageMask',
    name: 'Cryptographic Usage Mask',
    tag: Tag.CryptographicUsageMask,
    kind: 'int',
    multi: false,
  },
  { key: 'names', name: 'Name', tag: Tag.Name, kind: 'name', multi: true },
  {
    key: 'operationPolicyName',
    name: 'Operation Policy Name',
    tag: Tag.OperationPolicyName,
    kind: 'text',
    multi: false,
    v1Only: true,
  },
  { key: 'objectGroups', name: 'Object Group', tag: Tag.ObjectGroup, kind: 'text', multi: true },
  { key: 'state', name: 'State', tag: Tag.State, kind: 'enum', multi: false },
  { key: 'initialDate', name: 'Initial Date', tag: Tag.InitialDate, kind: 'date', multi: false },
  {
    key: 'activationDate',
    name: 'Activation Date',
    tag: Tag.ActivationDate,
    kind: 'date',
    multi: false,
  },
  {
    key: 'deactivationDate',
    name: 'Deactivation Date',
    tag: Tag.DeactivationDate,
    kind: 'date',
    multi: false,
  },
];

const byKey = new Map(ATTRIBUTES.map((d) => [d.key, d]));
const byName = new Map(ATTRIBUTES.map((d) => [d.name, d]));
const byTag = new Map(ATTRIBUTES.map((d) => [d.tag, d]));

/** Attribute names a caller may ask for in Get Attributes. */
export type AttributeKey = Key;

function valueItem(def: AttributeDef, tag: number, value: unknown): TtlvItem {
  switch (def.kind) {
    case 'text':
      return text(tag, value as string);
    case 'int':
      return int(tag, value as number);
    case 'enum':
      return enumv(tag, value as number);
    case 'date':
      return dateTime(tag, value as Date);
    case 'name':
      return struct(tag, [
        text(Tag.NameValue, value as string),
        enumv(Tag.NameType, 1 /* Uninterpreted Text String */),
      ]);
  }
}

function readValue(def: AttributeDef, item: TtlvItem): unknown {
  const bad = (): never => {
    throw new MessageFormatError(`attribute ${def.name} has the wrong type`);
  };
  switch (def.kind) {
    case 'text':
      return item.type === ItemType.TextString ? item.value : bad();
    case 'int':
      return item.type === ItemType.Integer ? item.value : bad();
    case 'enum':
      return item.type === ItemType.Enumeration ? item.value : bad();
    case 'date':
      return item.type === ItemType.DateTime ? new Date(Number(item.value) * 1000) : bad();
    case 'name': {
      const v = find(item, Tag.NameValue);
      return v?.type === ItemType.TextString ? v.value : bad();
    }
  }
}

/** Each (definition, single value) pair present in attrs, in table order. */
function* entries(attrs: ObjectAttributes): Generator<[AttributeDef, unknown]> {
  for (const def of ATTRIBUTES) {
    const v = attrs[def.key];
    if (v === undefined) continue;
    if (def.multi) for (const one of v as unknown[]) yield [def, one];
    else yield [def, v];
  }
}

const customName = (name: string): string => `x-${name}`;

/** The attribute items of attrs for version v (no wrapper). */
export function attributeItems(v: KmipVersion, attrs: ObjectAttributes): TtlvItem[] {
  const out: TtlvItem[] = [];
  for (const [def, value] of entries(attrs)) {
    if (isV2(v)) {
      if (!def.v1Only) out.push(valueItem(def, def.tag, value));
    } else {
      out.push(
        struct(Tag.Attribute, [
          text(Tag.AttributeName, def.name),
          valueItem(def, Tag.AttributeValue, value),
        ]),
      );
    }
  }
  for (const [name, value] of Object.entries(attrs.custom ?? {})) {
    out.push(
      struct(Tag.Attribute, [
        ...(isV2(v) ? [text(Tag.VendorIdentification, 'x'), text(Tag.AttributeName, name)] : []),
        ...(isV2(v) ? [] : [text(Tag.AttributeName, customName(name))]),
        text(Tag.AttributeValue, value),
      ]),
    );
  }
  return out;
}

/** Create/Register attributes: Template-Attribute (1.x) or Attributes (2.x). */
export function templateAttribute(v: KmipVersion, attrs: ObjectAttributes): TtlvItem {
  return struct(isV2(v) ? Tag.Attributes : Tag.TemplateAttribute, attributeItems(v, attrs));
}

function merge(out: ObjectAttributes, def: AttributeDef, value: unknown): void {
  const rec = out as Record<string, unknown>;
  if (def.multi) ((rec[def.key] as unknown[] | undefined) ?? (rec[def.key] = [])).push(value);
  else rec[def.key] = value;
}

function mergeCustom(out: ObjectAttributes, name: string, item: TtlvItem | undefined): void {
  if (item?.type === ItemType.TextString) (out.custom ??= {})[name] = item.value;
}

/**
 * Read attributes from a Get Attributes response payload, a Create/Register payload or a
 * Locate payload: Attribute structures directly in `container` or in its Template-Attribute
 * (1.x), and tagged items in its Attributes structure (2.x). Unknown attributes are skipped.
 */
export function readAttributes(container: TtlvItem | undefined): ObjectAttributes {
  const out: ObjectAttributes = {};
  const v2 = find(container, Tag.Attributes);
  for (const src of [container, find(container, Tag.TemplateAttribute), v2]) {
    for (const child of findAll(src, Tag.Attribute)) readAttributeStructure(out, child);
  }
  if (v2?.type === ItemType.Structure) {
    for (const child of v2.value) {
      const def = byTag.get(child.tag);
      if (def) merge(out, def, readValue(def, child));
    }
  }
  return out;
}

/** One Attribute structure: a 1.x attribute, an "x-" custom one, or a 2.x vendor one. */
function readAttributeStructure(out: ObjectAttributes, attr: TtlvItem): void {
  const name = find(attr, Tag.AttributeName);
  if (name?.type !== ItemType.TextString) throw new MessageFormatError('attribute without a name');
  const vendor = find(attr, Tag.VendorIdentification);
  const value = find(attr, Tag.AttributeValue);
  if (vendor?.type === ItemType.TextString) {
    if (vendor.value === 'x') mergeCustom(out, name.value, value);
  } else if (name.value.startsWith('x-')) {
    mergeCustom(out, name.value.slice(2), value);
  } else {
    const def = byName.get(name.value);
    if (def && value) merge(out, def, readValue(def, value));
  }
}

/** Get Attributes request selectors: Attribute Name (1.x) or Attribute Reference (2.x). */
export function attributeSelectors(
  v: KmipVersion,
  keys: readonly AttributeKey[],
  custom: readonly string[] = [],
): TtlvItem[] {
  const out: TtlvItem[] = [];
  for (const key of keys) {
    const def = byKey.get(key);
    if (!def) throw new MessageFormatError(`unknown attribute ${key}`);
    if (isV2(v)) {
      if (!def.v1Only) out.push(enumv(Tag.AttributeReference, def.tag));
    } else out.push(text(Tag.AttributeName, def.name));
  }
  for (const name of custom) {
    out.push(
      isV2(v)
        ? struct(Tag.AttributeReference, [
            text(Tag.VendorIdentification, 'x'),
            text(Tag.AttributeName, name),
          ])
        : text(Tag.AttributeName, customName(name)),
    );
  }
  return out;
}

/** The inverse of attributeSelectors, for the server: which keys and custom names. */
export function readSelectors(payload: TtlvItem): { keys: AttributeKey[]; custom: string[] } {
  const keys: AttributeKey[] = [];
  const custom: string[] = [];
  for (const item of findAll(payload, Tag.AttributeName)) {
    if (item.type !== ItemType.TextString) continue;
    if (item.value.startsWith('x-')) custom.push(item.value.slice(2));
    else {
      const def = byName.get(item.value);
      if (def) keys.push(def.key);
    }
  }
  for (const item of findAll(payload, Tag.AttributeReference)) {
    if (item.type === ItemType.Enumeration) {
      const def = byTag.get(item.value);
      if (def) keys.push(def.key);
    } else {
      const name = find(item, Tag.AttributeName);
      if (name?.type === ItemType.TextString) custom.push(name.value);
    }
  }
  return { keys, custom };
}

/** Get Attributes response body: Attribute* (1.x) or one Attributes structure (2.x). */
export function attributesResponse(v: KmipVersion, attrs: ObjectAttributes): TtlvItem[] {
  const items = attributeItems(v, attrs);
  return isV2(v) ? [struct(Tag.Attributes, items)] : items;
}
