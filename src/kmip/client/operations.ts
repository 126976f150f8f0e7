// Typed single-operation helpers over any batch runner (one key server or a provider):
// each sends one operation and throws its KmipError on failure.
import type { KmipVersion } from '../ttlv';
import {
  ops,
  type BatchOp,
  type Created,
  type FetchedAttributes,
  type FetchedObject,
  type LocateFilter,
  type ObjectAttributes,
  type QueryResult,
  type SymmetricKeySpec,
  type AttributeKey,
} from '../messages';
import type { BatchOutcome, ItemResult } from './batch';

export abstract class KmipOperations {
  /** Send ops as one message; per-item results in order. */
  abstract batch<T extends readonly BatchOp<unknown>[]>(ops: T): Promise<BatchOutcome<T>>;

  async one<V>(op: BatchOp<V>): Promise<V> {
    const { results } = await this.batch([op] as const);
    const r = results[0] as ItemResult<V>;
    if (!r.ok) throw r.error;
    return r.value;
  }

  create(spec?: SymmetricKeySpec): Promise<Created> {
    return this.one(ops.create(spec));
  }
  /** `material` is sent as is and left to the caller to zero; the wire copy is zeroed. */
  registerSecretData(material: Buffer, attributes?: ObjectAttributes): Promise<string> {
    return this.one(ops.registerSecretData(material, attributes));
  }
  registerSymmetricKey(
    material: Buffer,
    attributes: ObjectAttributes & { cryptographicAlgorithm: number; cryptographicLength: number },
  ): Promise<string> {
    return this.one(ops.registerSymmetricKey(material, attributes));
  }
  /** The object's key material is a Buffer the caller must zero after use. */
  get(uid: string): Promise<FetchedObject> {
    return this.one(ops.get(uid));
  }
  /** Many Gets in one message: one round trip, per-UID results in order. */
  async getMany(uids: readonly string[]): Promise<BatchOutcome<BatchOp<FetchedObject>[]>> {
    return this.batch(uids.map((u) => ops.get(u)));
  }
  locate(filter?: LocateFilter): Promise<string[]> {
    return this.one(ops.locate(filter));
  }
  activate(uid: string): Promise<string> {
    return this.one(ops.activate(uid));
  }
  revoke(uid: string, reasonCode?: number, compromiseDate?: Date): Promise<string> {
    return this.one(ops.revoke(uid, reasonCode, compromiseDate));
  }
  destroy(uid: string): Promise<string> {
    return this.one(ops.destroy(uid));
  }
  getAttributes(
    uid: string,
    keys?: readonly AttributeKey[],
    custom?: readonly string[],
  ): Promise<FetchedAttributes> {
    return this.one(ops.getAttributes(uid, keys, custom));
  }
  query(functions?: readonly number[]): Promise<QueryResult> {
    return this.one(ops.query(functions));
  }
  discoverVersions(offered: readonly KmipVersion[] = []): Promise<KmipVersion[]> {
    return this.one(ops.discoverVersions(offered));
  }
}
