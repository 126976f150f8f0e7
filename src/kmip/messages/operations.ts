// Typed client operations: each builds its Request Payload for the negotiated version and
// reads its Response Payload. Several go into one message as a batch.
import {
  CryptographicAlgorithm,
  CryptographicUsageMask,
  ItemType,
  ObjectType,
  Operation,
  SecretDataType,
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
import {
  attributeItems,
  attributeSelectors,
  readAttributes,
  templateAttribute,
  type AttributeKey,
  type ObjectAttributes,
} from './attributes';
import { MessageFormatError } from './envelope';
import { readObject, secretDataItem, symmetricKeyItem, type ManagedObject } from './objects';
import { isV2 } from './version';

/** One operation of a batch: how to encode its request and read its response. */
export interface BatchOp<T> {
  operation: number;
  /** A short name for logs and errors ("Get 12"); never key material. */
  label: string;
  encode(v: KmipVersion): TtlvItem;
  decode(payload: TtlvItem | undefined, v: KmipVersion): T;
}

const payload = (children: TtlvItem[]): TtlvItem => struct(Tag.RequestPayload, children);
/** Omitted Unique Identifier: the server uses the ID Placeholder (earlier item's result). */
const uidItems = (uid: string | undefined): TtlvItem[] =>
  uid === undefined ? [] : [text(Tag.UniqueIdentifier, uid)];

function readUid(p: TtlvItem | undefined): string {
  const uid = find(p, Tag.UniqueIdentifier);
  if (uid?.type !== ItemType.TextString) throw new MessageFormatError('Unique Identifier missing');
  return uid.value;
}

function readEnum(p: TtlvItem | undefined, tag: number, what: string): number {
  const item = find(p, tag);
  if (item?.type !== ItemType.Enumeration) throw new MessageFormatError(`${what} missing`);
  return item.value;
}

export interface Created {
  objectType: number;
  uniqueIdentifier: string;
}

export interface SymmetricKeySpec extends Omit<
  ObjectAttributes,
  'uniqueIdentifier' | 'objectType'
> {}

/** Create a symmetric key at the server (default AES-256, Encrypt|Decrypt). */
export function create(spec: SymmetricKeySpec = {}): BatchOp<Created> {
  const attrs: ObjectAttributes = {
    cryptographicAlgorithm: CryptographicAlgorithm.AES,
    cryptographicLength: 256,
    cryptographicUsageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt,
    ...spec,
  };
  return {
    operation: Operation.Create,
    label: 'Create',
    encode: (v) =>
      payload([enumv(Tag.ObjectType, ObjectType.SymmetricKey), templateAttribute(v, attrs)]),
    decode: (p) => ({
      objectType: readEnum(p, Tag.ObjectType, 'Object Type'),
      uniqueIdentifier: readUid(p),
    }),
  };
}

/** Register Secret Data (default type Password, key format Opaque). */
export function registerSecretData(
  material: Buffer,
  attributes: ObjectAttributes = {},
  secretDataType: number = SecretDataType.Password,
): BatchOp<string> {
  return {
    operation: Operation.Register,
    label: 'Register Secret Data',
    encode: (v) =>
      payload([
        enumv(Tag.ObjectType, ObjectType.SecretData),
        templateAttribute(v, attributes),
        secretDataItem(material, secretDataType),
      ]),
    decode: readUid,
  };
}

/** Register a symmetric key (Raw) with its algorithm and length in bits. */
export function registerSymmetricKey(
  material: Buffer,
  attributes: ObjectAttributes & { cryptographicAlgorithm: number; cryptographicLength: number },
): BatchOp<string> {
  return {
    operation: Operation.Register,
    label: 'Register Symmetric Key',
    encode: (v) =>
      payload([
        enumv(Tag.ObjectType, ObjectType.SymmetricKey),
        templateAttribute(v, attributes),
        symmetricKeyItem(
          material,
          attributes.cryptographicAlgorithm,
          attributes.cryptographicLength,
        ),
      ]),
    decode: readUid,
  };
}

export interface FetchedObject extends ManagedObject {
  uniqueIdentifier: string;
}

/** Get an object (its key material comes back as a Buffer the caller zeroes). */
export function get(uid?: string): BatchOp<FetchedObject> {
  return {
    operation: Operation.Get,
    label: `Get ${uid ?? '(placeholder)'}`,
    encode: () => payload(uidItems(uid)),
    decode: (p) => {
      const objectType = readEnum(p, Tag.ObjectType, 'Object Type');
      return { uniqueIdentifier: readUid(p), ...readObject(p, objectType) };
    },
  };
}

export interface LocateFilter {
  names?: string[];
  objectType?: number;
  objectGroups?: string[];
  maximumItems?: number;
}

/** Locate objects by Name, Object Type and/or Object Group. */
export function locate(filter: LocateFilter = {}): BatchOp<string[]> {
  const attrs: ObjectAttributes = {
    ...(filter.names ? { names: filter.names } : {}),
    ...(filter.objectType !== undefined ? { objectType: filter.objectType } : {}),
    ...(filter.objectGroups ? { objectGroups: filter.objectGroups } : {}),
  };
  return {
    operation: Operation.Locate,
    label: 'Locate',
    encode: (v) => {
      const items = attributeItems(v, attrs);
      return payload([
        ...(filter.maximumItems !== undefined ? [int(Tag.MaximumItems, filter.maximumItems)] : []),
        ...(isV2(v) ? (items.length ? [struct(Tag.Attributes, items)] : []) : items),
      ]);
    },
    decode: (p) =>
      findAll(p, Tag.UniqueIdentifier).map((u) => {
        if (u.type !== ItemType.TextString) throw new MessageFormatError('bad Unique Identifier');
        return u.value;
      }),
  };
}

function uidOnly(operation: number, label: string, uid: string | undefined): BatchOp<string> {
  return {
    operation,
    label: `${label} ${uid ?? '(placeholder)'}`,
    encode: () => payload(uidItems(uid)),
    decode: readUid,
  };
}

export const activate = (uid?: string): BatchOp<string> =>
  uidOnly(Operation.Activate, 'Activate', uid);
export const destroy = (uid?: string): BatchOp<string> =>
  uidOnly(Operation.Destroy, 'Destroy', uid);

/** Revoke (default reason Cessation of Operation; Key Compromise needs a date). */
export function revoke(
  uid: string | undefined,
  reasonCode = 6,
  compromiseDate?: Date,
): BatchOp<string> {
  return {
    operation: Operation.Revoke,
    label: `Revoke ${uid ?? '(placeholder)'}`,
    encode: () =>
      payload([
        ...uidItems(uid),
        struct(Tag.RevocationReason, [enumv(Tag.RevocationReasonCode, reasonCode)]),
        ...(compromiseDate ? [dateTime(Tag.CompromiseOccurrenceDate, compromiseDate)] : []),
      ]),
    decode: readUid,
  };
}

export interface FetchedAttributes {
  uniqueIdentifier: string;
  attributes: ObjectAttributes;
}

/** Get Attributes: the named ones, or all when none are named. */
export function getAttributes(
  uid: string | undefined,
  keys: readonly AttributeKey[] = [],
  custom: readonly string[] = [],
): BatchOp<FetchedAttributes> {
  return {
    operation: Operation.GetAttributes,
    label: `Get Attributes ${uid ?? '(placeholder)'}`,
    encode: (v) => payload([...uidItems(uid), ...attributeSelectors(v, keys, custom)]),
    decode: (p) => ({ uniqueIdentifier: readUid(p), attributes: readAttributes(p) }),
  };
}

export interface QueryResult {
  operations: number[];
  objectTypes: number[];
  vendorIdentification?: string;
}

/** Query operations, object types and server information. */
export function query(
  functions: readonly number[] = [1, 2, 3] /* Operations, Objects, Server Information */,
): BatchOp<QueryResult> {
  return {
    operation: Operation.Query,
    label: 'Query',
    encode: () => payload(functions.map((f) => enumv(Tag.QueryFunction, f))),
    decode: (p) => {
      const vendor = find(p, Tag.VendorIdentification);
      return {
        operations: enumsOf(p, Tag.Operation),
        objectTypes: enumsOf(p, Tag.ObjectType),
        ...(vendor?.type === ItemType.TextString ? { vendorIdentification: vendor.value } : {}),
      };
    },
  };
}

function enumsOf(p: TtlvItem | undefined, tag: number): number[] {
  return findAll(p, tag).flatMap((i) => (i.type === ItemType.Enumeration ? [i.value] : []));
}

/** Discover Versions: the server's versions among `offered` (all of them if empty). */
export function discoverVersions(offered: readonly KmipVersion[]): BatchOp<KmipVersion[]> {
  return {
    operation: Operation.DiscoverVersions,
    label: 'Discover Versions',
    encode: () =>
      payload(
        offered.map((v) =>
          struct(Tag.ProtocolVersion, [
            int(Tag.ProtocolVersionMajor, v.major),
            int(Tag.ProtocolVersionMinor, v.minor),
          ]),
        ),
      ),
    decode: (p) =>
      findAll(p, Tag.ProtocolVersion).map((pv) => {
        const major = find(pv, Tag.ProtocolVersionMajor);
        const minor = find(pv, Tag.ProtocolVersionMinor);
        if (major?.type !== ItemType.Integer || minor?.type !== ItemType.Integer) {
          throw new MessageFormatError('bad Protocol Version');
        }
        return { major: major.value, minor: minor.value };
      }),
  };
}
