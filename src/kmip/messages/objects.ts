// Managed objects carried by Register and Get: Symmetric Key and Secret Data, each a
// Key Block around raw key material (Raw for symmetric keys, Opaque for secret data).
import { ItemType, ObjectType, Tag, bytes, enumv, find, int, struct, type TtlvItem } from '../ttlv';
import { MessageFormatError } from './envelope';

const KEY_FORMAT_RAW = 1;
const KEY_FORMAT_OPAQUE = 2;

export interface ManagedObject {
  objectType: number;
  keyFormatType: number;
  /** The key material: the caller zeroes it after use. */
  material: Buffer;
  cryptographicAlgorithm?: number;
  cryptographicLength?: number;
  /** Secret Data only (Password 1, Seed 2). */
  secretDataType?: number;
}

export function symmetricKeyItem(material: Buffer, algorithm: number, length: number): TtlvItem {
  return struct(Tag.SymmetricKey, [keyBlock(KEY_FORMAT_RAW, material, algorithm, length)]);
}

export function secretDataItem(material: Buffer, secretDataType: number): TtlvItem {
  return struct(Tag.SecretData, [
    enumv(Tag.SecretDataType, secretDataType),
    keyBlock(KEY_FORMAT_OPAQUE, material),
  ]);
}

/** The object item for obj (server side of Get). */
export function objectItem(obj: ManagedObject): TtlvItem {
  if (obj.objectType === ObjectType.SecretData) {
    return struct(Tag.SecretData, [
      enumv(Tag.SecretDataType, obj.secretDataType ?? 1),
      keyBlock(obj.keyFormatType, obj.material),
    ]);
  }
  return struct(Tag.SymmetricKey, [
    keyBlock(obj.keyFormatType, obj.material, obj.cryptographicAlgorithm, obj.cryptographicLength),
  ]);
}

function keyBlock(format: number, material: Buffer, algorithm?: number, length?: number): TtlvItem {
  return struct(Tag.KeyBlock, [
    enumv(Tag.KeyFormatType, format),
    struct(Tag.KeyValue, [bytes(Tag.KeyMaterial, material)]),
    ...(algorithm !== undefined ? [enumv(Tag.CryptographicAlgorithm, algorithm)] : []),
    ...(length !== undefined ? [int(Tag.CryptographicLength, length)] : []),
  ]);
}

const OBJECT_TAGS: Record<number, number> = {
  [ObjectType.SymmetricKey]: Tag.SymmetricKey,
  [ObjectType.SecretData]: Tag.SecretData,
};

/**
 * Read the object of type objectType from a Register request or Get response payload.
 * The material is copied out of the message (which the caller zeroes).
 */
export function readObject(payload: TtlvItem | undefined, objectType: number): ManagedObject {
  const tag = OBJECT_TAGS[objectType];
  if (tag === undefined) throw new MessageFormatError(`object type ${objectType} is not supported`);
  const obj = find(payload, tag);
  if (!obj) throw new MessageFormatError('the object is missing');
  const block = find(obj, Tag.KeyBlock);
  const format = find(block, Tag.KeyFormatType);
  if (format?.type !== ItemType.Enumeration)
    throw new MessageFormatError('Key Format Type missing');
  const keyValue = find(block, Tag.KeyValue);
  // Key Value is a structure, or a Byte String when the key is wrapped.
  const material =
    keyValue?.type === ItemType.ByteString ? keyValue : find(keyValue, Tag.KeyMaterial);
  if (material?.type !== ItemType.ByteString) {
    throw new MessageFormatError('Key Material missing or not a byte string');
  }
  const out: ManagedObject = {
    objectType,
    keyFormatType: format.value,
    material: Buffer.from(material.value),
  };
  const alg = find(block, Tag.CryptographicAlgorithm);
  if (alg?.type === ItemType.Enumeration) out.cryptographicAlgorithm = alg.value;
  const len = find(block, Tag.CryptographicLength);
  if (len?.type === ItemType.Integer) out.cryptographicLength = len.value;
  const sdt = find(obj, Tag.SecretDataType);
  if (sdt?.type === ItemType.Enumeration) out.secretDataType = sdt.value;
  return out;
}
