// The dev key server's operations: one Request Message in, one Response Message out.
// Objects are owned by the client certificate's CN; only the owner sees them.
import { randomBytes } from 'node:crypto';
import {
  CryptographicAlgorithm,
  ItemType,
  KeyFormatType,
  ObjectType,
  Operation,
  ResultReason,
  ResultStatus,
  State,
  Tag,
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
  BatchContinue,
  MessageFormatError,
  type RequestBatchItem,
  attributesResponse,
  objectItem,
  readAttributes,
  readObject,
  readSelectors,
  type ObjectAttributes,
  type RequestMessage,
  type ResponseBatchItem,
  type ResponseMessage,
} from '../messages';
import type { ObjectFile, StoredObject } from './object-file';

/** Server preference order, as PyKMIP lists them. */
export const SERVER_VERSIONS: readonly KmipVersion[] = [
  { major: 2, minor: 0 },
  { major: 1, minor: 4 },
  { major: 1, minor: 3 },
  { major: 1, minor: 2 },
  { major: 1, minor: 1 },
  { major: 1, minor: 0 },
];

export const SUPPORTED_OPERATIONS = [
  Operation.Create,
  Operation.Register,
  Operation.Locate,
  Operation.Get,
  Operation.GetAttributes,
  Operation.Activate,
  Operation.Revoke,
  Operation.Destroy,
  Operation.Query,
  Operation.DiscoverVersions,
];

const MUTATING = new Set<number>([
  Operation.Create,
  Operation.Register,
  Operation.Activate,
  Operation.Revoke,
  Operation.Destroy,
]);

/** A failed operation: becomes Operation Failed with this reason. */
class OpError extends Error {
  constructor(
    readonly reason: number,
    message: string,
  ) {
    super(message);
  }
}

interface Context {
  version: KmipVersion;
  owner: string;
  /** The ID Placeholder: the last Unique Identifier an item of this batch produced. */
  placeholder?: string;
}

export class Engine {
  constructor(private readonly store: ObjectFile) {}

  handle(req: RequestMessage, owner: string): ResponseMessage {
    const ctx: Context = { version: req.version, owner };
    let dirty = false;
    let stopped = false;
    const stopOnError =
      (req.batchErrorContinuation ?? BatchContinue.Stop) !== BatchContinue.Continue;
    const items: ResponseBatchItem[] = [];
    for (const it of req.items) {
      if (stopped) break;
      const result = this.item(it, ctx);
      if (result.resultStatus === ResultStatus.Success && MUTATING.has(it.operation)) dirty = true;
      else if (result.resultStatus !== ResultStatus.Success) stopped = stopOnError;
      items.push(result);
    }
    if (dirty) this.store.save();
    return { version: req.version, items };
  }

  /** One batch item; a failure of the operation becomes a failed result. */
  private item(it: RequestBatchItem, ctx: Context): ResponseBatchItem {
    const base = { operation: it.operation, ...(it.batchId ? { batchId: it.batchId } : {}) };
    try {
      const payload = this.dispatch(it.operation, it.payload, ctx);
      return { ...base, resultStatus: ResultStatus.Success, payload };
    } catch (err) {
      const reason =
        err instanceof OpError
          ? err.reason
          : err instanceof MessageFormatError
            ? ResultReason.InvalidField
            : undefined;
      if (reason === undefined) throw err;
      return {
        ...base,
        resultStatus: ResultStatus.OperationFailed,
        resultReason: reason,
        resultMessage: (err as Error).message,
      };
    }
  }

  private dispatch(op: number, p: TtlvItem, ctx: Context): TtlvItem {
    switch (op) {
      case Operation.Create:
        return this.create(p, ctx);
      case Operation.Register:
        return this.register(p, ctx);
      case Operation.Get:
        return this.get(p, ctx);
      case Operation.Locate:
        return this.locate(p, ctx);
      case Operation.GetAttributes:
        return this.getAttributes(p, ctx);
      case Operation.Activate:
        return this.activate(p, ctx);
      case Operation.Revoke:
        return this.revoke(p, ctx);
      case Operation.Destroy:
        return this.destroy(p, ctx);
      case Operation.Query:
        return this.query(p);
      case Operation.DiscoverVersions:
        return this.discoverVersions(p, ctx);
      default:
        throw new OpError(ResultReason.OperationNotSupported, `operation ${op} is not supported`);
    }
  }

  private create(p: TtlvItem, ctx: Context): TtlvItem {
    const type = enumOf(p, Tag.ObjectType);
    if (type !== ObjectType.SymmetricKey) {
      throw new OpError(ResultReason.InvalidField, 'only symmetric keys can be created');
    }
    const attrs = readAttributes(p);
    if (attrs.cryptographicAlgorithm !== CryptographicAlgorithm.AES) {
      throw new OpError(ResultReason.InvalidField, 'only AES keys can be created');
    }
    const bits = attrs.cryptographicLength;
    if (bits !== 128 && bits !== 192 && bits !== 256) {
      throw new OpError(ResultReason.InvalidField, 'Cryptographic Length must be 128, 192 or 256');
    }
    const material = randomBytes(bits / 8);
    const uid = this.add(ctx, type, KeyFormatType.Raw, attrs, material);
    material.fill(0);
    return response([enumv(Tag.ObjectType, type), text(Tag.UniqueIdentifier, uid)]);
  }

  private register(p: TtlvItem, ctx: Context): TtlvItem {
    const type = enumOf(p, Tag.ObjectType);
    let obj;
    try {
      obj = readObject(p, type);
    } catch (err) {
      throw new OpError(ResultReason.InvalidField, (err as Error).message);
    }
    const attrs = readAttributes(p);
    if (type === ObjectType.SymmetricKey) {
      attrs.cryptographicAlgorithm ??= obj.cryptographicAlgorithm;
      attrs.cryptographicLength ??= obj.cryptographicLength;
    }
    const uid = this.add(ctx, type, obj.keyFormatType, attrs, obj.material, obj.secretDataType);
    obj.material.fill(0);
    return response([text(Tag.UniqueIdentifier, uid)]);
  }

  private add(
    ctx: Context,
    objectType: number,
    keyFormatType: number,
    attrs: ObjectAttributes,
    material: Buffer,
    secretDataType?: number,
  ): string {
    const custom = Object.keys(attrs.custom ?? {});
    if (custom.length > 0) {
      throw new OpError(ResultReason.InvalidField, `custom attribute ${custom[0]} is unsupported`);
    }
    const uid = this.store.newUid();
    const { uniqueIdentifier: _u, objectType: _t, state: _s, ...client } = attrs;
    this.store.objects.set(uid, {
      uid,
      owner: ctx.owner,
      objectType,
      keyFormatType,
      state: State.PreActive,
      ...(secretDataType !== undefined ? { secretDataType } : {}),
      attributes: { ...client, initialDate: new Date(Math.floor(Date.now() / 1000) * 1000) },
      material: material.toString('hex'),
    });
    ctx.placeholder = uid;
    return uid;
  }

  private get(p: TtlvItem, ctx: Context): TtlvItem {
    const o = this.owned(p, ctx);
    if (o.material === undefined) throw new OpError(ResultReason.ItemNotFound, 'object destroyed');
    const material = Buffer.from(o.material, 'hex');
    const item = objectItem({
      objectType: o.objectType,
      keyFormatType: o.keyFormatType,
      material,
      ...pick(o),
    });
    return response([enumv(Tag.ObjectType, o.objectType), text(Tag.UniqueIdentifier, o.uid), item]);
  }

  private locate(p: TtlvItem, ctx: Context): TtlvItem {
    const filter = readAttributes(p);
    const max = find(p, Tag.MaximumItems);
    const limit = max?.type === ItemType.Integer && max.value > 0 ? max.value : Infinity;
    const found: string[] = [];
    for (const o of this.store.objects.values()) {
      if (found.length >= limit) break;
      if (o.owner !== ctx.owner || o.material === undefined) continue;
      if (filter.objectType !== undefined && filter.objectType !== o.objectType) continue;
      if (filter.state !== undefined && filter.state !== o.state) continue;
      if (filter.names && !filter.names.every((n) => o.attributes.names?.includes(n))) continue;
      const groups = filter.objectGroups;
      if (groups && !groups.every((g) => o.attributes.objectGroups?.includes(g))) continue;
      found.push(o.uid);
    }
    return response(found.map((uid) => text(Tag.UniqueIdentifier, uid)));
  }

  private getAttributes(p: TtlvItem, ctx: Context): TtlvItem {
    const o = this.owned(p, ctx);
    const all: ObjectAttributes = {
      uniqueIdentifier: o.uid,
      objectType: o.objectType,
      ...o.attributes,
      state: o.state,
    };
    const { keys } = readSelectors(p);
    const chosen: ObjectAttributes = {};
    if (keys.length === 0) Object.assign(chosen, all);
    else for (const k of keys) if (all[k] !== undefined) Object.assign(chosen, { [k]: all[k] });
    return response([
      text(Tag.UniqueIdentifier, o.uid),
      ...attributesResponse(ctx.version, chosen),
    ]);
  }

  private activate(p: TtlvItem, ctx: Context): TtlvItem {
    const o = this.owned(p, ctx);
    if (o.state !== State.PreActive) {
      throw new OpError(ResultReason.PermissionDenied, 'object is not pre-active');
    }
    o.state = State.Active;
    o.attributes.activationDate = new Date();
    return response([text(Tag.UniqueIdentifier, o.uid)]);
  }

  private revoke(p: TtlvItem, ctx: Context): TtlvItem {
    const o = this.owned(p, ctx);
    const code = enumOf(find(p, Tag.RevocationReason) ?? p, Tag.RevocationReasonCode);
    if (o.state === State.Destroyed)
      throw new OpError(ResultReason.PermissionDenied, 'object destroyed');
    o.state = code === 2 /* Key Compromise */ ? State.Compromised : State.Deactivated;
    o.attributes.deactivationDate = new Date();
    return response([text(Tag.UniqueIdentifier, o.uid)]);
  }

  private destroy(p: TtlvItem, ctx: Context): TtlvItem {
    const o = this.owned(p, ctx);
    // KMIP: an Active object must be revoked before it can be destroyed.
    if (o.state === State.Active) {
      throw new OpError(ResultReason.PermissionDenied, 'Object is active and cannot be destroyed.');
    }
    if (o.material === undefined) throw new OpError(ResultReason.ItemNotFound, 'object destroyed');
    delete o.material;
    o.state = o.state === State.Compromised ? State.DestroyedCompromised : State.Destroyed;
    return response([text(Tag.UniqueIdentifier, o.uid)]);
  }

  private query(p: TtlvItem): TtlvItem {
    const functions = findAll(p, Tag.QueryFunction).map((f) => f.value);
    const out: TtlvItem[] = [];
    if (functions.includes(1))
      out.push(...SUPPORTED_OPERATIONS.map((o) => enumv(Tag.Operation, o)));
    if (functions.includes(2)) {
      out.push(
        enumv(Tag.ObjectType, ObjectType.SymmetricKey),
        enumv(Tag.ObjectType, ObjectType.SecretData),
      );
    }
    if (functions.includes(3)) {
      out.push(text(Tag.VendorIdentification, 'ekmd development key server (not for production)'));
    }
    return response(out);
  }

  private discoverVersions(p: TtlvItem, ctx: Context): TtlvItem {
    if (ctx.version.major === 1 && ctx.version.minor === 0) {
      throw new OpError(ResultReason.OperationNotSupported, 'Discover Versions is not in KMIP 1.0');
    }
    const offered = findAll(p, Tag.ProtocolVersion).map((v) => ({
      major: find(v, Tag.ProtocolVersionMajor)?.value,
      minor: find(v, Tag.ProtocolVersionMinor)?.value,
    }));
    const list = SERVER_VERSIONS.filter(
      (s) =>
        offered.length === 0 || offered.some((o) => o.major === s.major && o.minor === s.minor),
    );
    return response(
      list.map((v) =>
        struct(Tag.ProtocolVersion, [
          int(Tag.ProtocolVersionMajor, v.major),
          int(Tag.ProtocolVersionMinor, v.minor),
        ]),
      ),
    );
  }

  /** The object named by the payload (or the ID Placeholder) if the caller owns it. */
  private owned(p: TtlvItem, ctx: Context): StoredObject {
    const uidItem = find(p, Tag.UniqueIdentifier);
    const uid = uidItem?.type === ItemType.TextString ? uidItem.value : ctx.placeholder;
    if (uid === undefined) throw new OpError(ResultReason.MissingData, 'Unique Identifier missing');
    const o = this.store.objects.get(uid);
    // Another owner's object is indistinguishable from a missing one.
    if (!o || o.owner !== ctx.owner)
      throw new OpError(ResultReason.ItemNotFound, `no object ${uid}`);
    ctx.placeholder = uid;
    return o;
  }
}

function response(children: TtlvItem[]): TtlvItem {
  return struct(Tag.ResponsePayload, children);
}

function enumOf(p: TtlvItem, tag: number): number {
  const item = find(p, tag);
  if (item?.type !== ItemType.Enumeration) {
    throw new OpError(ResultReason.MissingData, `required field 0x${tag.toString(16)} missing`);
  }
  return item.value;
}

function pick(o: StoredObject): {
  cryptographicAlgorithm?: number;
  cryptographicLength?: number;
  secretDataType?: number;
} {
  const a = o.attributes;
  return {
    ...(a.cryptographicAlgorithm !== undefined
      ? { cryptographicAlgorithm: a.cryptographicAlgorithm }
      : {}),
    ...(a.cryptographicLength !== undefined ? { cryptographicLength: a.cryptographicLength } : {}),
    ...(o.secretDataType !== undefined ? { secretDataType: o.secretDataType } : {}),
  };
}
