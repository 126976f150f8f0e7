// Element's asynchronous results: a long operation returns an asyncHandle at once and
// records its outcome here. GetAsyncResult purges a completed result unless keepResult;
// ListAsyncResults never purges. Records survive restarts; an operation that was running
// when the daemon stopped is completed with an error at the next start of the node that
// ran it (nodes sharing the store each fail only their own).
import type { Json, Store, StoreReader, StoreTx } from '../../store/store';
import { ElementError } from '../errors';
import { writeInChunks } from '../store-chunks';

const RESULT_PREFIX = 'async/results/';
const NEXT_HANDLE = 'async/nextHandle';

export interface AsyncError {
  name: string;
  message: string;
  [k: string]: Json;
}

interface AsyncRecord {
  asyncResultID: number;
  resultType: string;
  status: 'running' | 'complete';
  createTime: string;
  lastUpdateTime: string;
  details: { [k: string]: Json };
  result?: { [k: string]: Json };
  error?: AsyncError;
  /** The node whose process runs the operation; absent in records written before: node 1. */
  nodeID?: number;
}

/** Which node this process is (cluster/drives' NodeScope); without one, node 1. */
export interface AsyncResultOwner {
  nodeID(reader: StoreReader): number | undefined;
}

/** The node of a single-node cluster, and of records that name none. */
const NODE_1 = 1;

const key = (handle: number): string => `${RESULT_PREFIX}${handle}`;
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class AsyncResultService {
  constructor(
    private readonly store: Store,
    private readonly owner?: AsyncResultOwner,
  ) {}

  private nodeID(reader: StoreReader): number | undefined {
    return this.owner ? this.owner.nodeID(reader) : NODE_1;
  }

  /** Starts a result inside the caller's transaction, so it commits with the change it tracks. */
  /** `nodeID`: the node that will run it, when not this one (a request for another node). */
  start(
    tx: StoreTx,
    resultType: string,
    details: { [k: string]: Json } = {},
    nodeID = this.nodeID(tx),
  ): number {
    const handle = (tx.get<number>(NEXT_HANDLE)?.value ?? 0) + 1;
    tx.put(NEXT_HANDLE, handle);
    const time = now();
    const record: AsyncRecord = {
      asyncResultID: handle,
      resultType,
      status: 'running',
      createTime: time,
      lastUpdateTime: time,
      details,
    };
    if (nodeID !== undefined) record.nodeID = nodeID;
    tx.put(key(handle), record as unknown as Json);
    return handle;
  }

  succeed(tx: StoreTx, handle: number, result: { [k: string]: Json }): void {
    this.finish(tx, handle, { result });
  }

  fail(tx: StoreTx, handle: number, error: AsyncError): void {
    this.finish(tx, handle, { error });
  }

  /** Whether the result is still running (not failed by a restart, say). */
  isRunning(tx: StoreReader, handle: number): boolean {
    return tx.get<AsyncRecord>(key(handle))?.value.status === 'running';
  }

  /** GetAsyncResult: Element's shape; a completed result is purged unless keepResult. */
  get(asyncHandle: number, keepResult = false): Promise<{ [k: string]: Json }> {
    return this.store.transaction((tx) => {
      const record = this.record(tx, asyncHandle);
      if (record.status === 'complete' && !keepResult) tx.delete(key(asyncHandle));
      const base = {
        createTime: record.createTime,
        lastUpdateTime: record.lastUpdateTime,
        resultType: record.resultType,
        status: record.status,
      };
      if (record.status === 'running') return { ...base, details: record.details };
      return record.error ? { ...base, error: record.error } : { ...base, result: record.result! };
    });
  }

  /** ListAsyncResults: the other shape (completed/success/data); never purges. */
  list(asyncResultTypes?: string[]): { [k: string]: Json }[] {
    const wanted = asyncResultTypes && new Set(asyncResultTypes);
    return this.store
      .list<AsyncRecord>(RESULT_PREFIX)
      .map((e) => e.value)
      .filter((r) => !wanted || wanted.has(r.resultType))
      .sort((a, b) => a.asyncResultID - b.asyncResultID)
      .map((r) => ({
        asyncResultID: r.asyncResultID,
        completed: r.status === 'complete',
        createTime: r.createTime,
        lastUpdateTime: r.lastUpdateTime,
        resultType: r.resultType,
        success: r.status === 'complete' && !r.error,
        data: (r.status === 'running' ? r.details : (r.error ?? r.result ?? {})) as Json,
      }));
  }

  /**
   * At start: whatever this node was running died with its previous process, except the
   * results of `ownedElsewhere` types, which a journal of their own settles (the master's
   * rekey), and those `waiting` says have not started (a request another node recorded for
   * this one, still to be taken: this node carries it out now). Another node's running
   * operations are its own (its restart fails them).
   */
  async failInterrupted(
    ownedElsewhere: string[] = [],
    waiting: (reader: StoreReader, nodeID: number, handle: number) => boolean = () => false,
  ): Promise<number[]> {
    const self = this.nodeID(this.store);
    if (self === undefined) return [];
    const running = this.store
      .list<AsyncRecord>(RESULT_PREFIX)
      .map((e) => e.value)
      .filter(
        (r) =>
          r.status === 'running' &&
          (r.nodeID ?? NODE_1) === self &&
          !ownedElsewhere.includes(r.resultType) &&
          !waiting(this.store, self, r.asyncResultID),
      );
    const failed = new Set<number>(); // a set: a transaction may run its callback again
    await writeInChunks(this.store, running, 1, (tx, r) => {
      // Checked again with the fail: the request's node may have taken it meanwhile.
      if (waiting(tx, self, r.asyncResultID)) return;
      this.fail(tx, r.asyncResultID, {
        name: 'xAsyncOperationInterrupted',
        message: `${r.resultType} was interrupted by a restart of the node's daemon.`,
      });
      failed.add(r.asyncResultID);
    });
    return [...failed];
  }

  private record(tx: StoreTx, handle: number): AsyncRecord {
    const entry = tx.get<AsyncRecord>(key(handle));
    if (!entry) {
      throw new ElementError('xAsyncHandleDoesNotExist', `Async handle ${handle} does not exist.`);
    }
    return entry.value;
  }

  private finish(
    tx: StoreTx,
    handle: number,
    outcome: { result?: { [k: string]: Json }; error?: AsyncError },
  ): void {
    const record = this.record(tx, handle);
    const done: AsyncRecord = {
      ...record,
      status: 'complete',
      lastUpdateTime: now(),
      details: {},
      ...outcome,
    };
    tx.put(key(handle), done as unknown as Json);
  }
}
