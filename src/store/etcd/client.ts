// The connection to etcd and the key layout under the cluster's prefix:
//   <prefix>store            the marker: this prefix holds an ekmd store, and its format
//   <prefix>kv/<key>         the store's keys; an empty value is a tombstone (a deleted key)
//   <prefix>maint/...        maintenance bookkeeping (compaction checkpoints)
// Every call has a deadline, so an etcd that does not answer (quorum lost, a partition)
// fails in bounded time. A call is retried on another endpoint only when it certainly did
// not reach etcd: a write whose fate is unknown is never sent twice.
import {
  Etcd3,
  GRPCResourceExhastedError,
  type IKeyValue,
  type IOptions,
  type IRangeRequest,
  type IRangeResponse,
} from 'etcd3';
import { StoreError } from '../errors';
import type { StoreEntry } from '../store';
import { TxConflict } from '../tx-buffer';
import type { EtcdStoreConfig, EtcdTlsMaterial } from './config';
import { certainlyNotSent, moreTelling, toStoreError } from './errors';

export type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;
type FaultHandling = NonNullable<IOptions['faultHandling']>;
type HostPolicy = ReturnType<NonNullable<FaultHandling['host']>>;
type GlobalPolicy = NonNullable<FaultHandling['global']>;
type WatchBackoff = NonNullable<FaultHandling['watchBackoff']>;

/**
 * Keys per range request at first. A page larger than a client may receive (values run to
 * 1 MiB each) fails whole, and is asked again an eighth the size.
 */
export const PAGE_KEYS = 1000;
const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;
const TOMBSTONE = Buffer.alloc(0);

export class EtcdIo {
  readonly client: Etcd3;
  /** How errors name this store: its endpoints and prefix. */
  readonly where: string;
  readonly markerKey: Buffer;
  readonly maintPrefix: string;
  private readonly dataPrefix: string;
  private closed = false;

  constructor(
    readonly config: EtcdStoreConfig,
    /** The client's TLS material (kept for the ensemble check's per-member clients). */
    readonly tls: EtcdTlsMaterial | undefined,
    readonly timeoutMs: number,
  ) {
    this.where = `etcd at ${config.endpoints.join(', ')} (prefix ${config.prefix})`;
    this.markerKey = Buffer.from(`${config.prefix}store`);
    this.maintPrefix = `${config.prefix}maint/`;
    this.dataPrefix = `${config.prefix}kv/`;
    this.client = new Etcd3({
      hosts: config.endpoints,
      credentials: tls && { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
      grpcOptions: {
        'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2000,
        // Notice a member that vanished without closing the connection (etcd allows
        // pings every 5 s or more while a stream, such as a watch, is open).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      },
      faultHandling: {
        host: () => passThrough,
        global: retryWhenNotSent(Math.max(3, 2 * config.endpoints.length)),
        watchBackoff: backoff(100, 2000),
      },
    });
    requireLeader(this.client);
  }

  /** One etcd call with a deadline; its failure becomes a StoreError saying what and where. */
  async call<T>(
    what: string,
    write: boolean,
    fn: (options: CallOptions) => Promise<T>,
  ): Promise<T> {
    this.ensureOpen(what);
    try {
      return await fn({ deadline: Date.now() + this.timeoutMs });
    } catch (err) {
      if (err instanceof TxConflict) throw err;
      if (/required revision has been compacted/.test((err as Error)?.message ?? '')) {
        throw new TxConflict('the revision it read at was compacted');
      }
      throw toStoreError(err, { where: this.where, what, write, timeoutMs: this.timeoutMs });
    }
  }

  /**
   * Every key in `req`'s range, at one revision, a page at a time. `read` runs each page
   * (a transaction pins them to its snapshot); pages after the first keep the first's
   * revision.
   */
  async rangeAll(
    req: IRangeRequest,
    read: (req: IRangeRequest) => Promise<IRangeResponse>,
  ): Promise<{ kvs: IKeyValue[]; revision: number }> {
    const kvs: IKeyValue[] = [];
    let page: IRangeRequest = { ...req, limit: PAGE_KEYS };
    for (;;) {
      let res: IRangeResponse;
      try {
        res = await read(page);
      } catch (err) {
        const limit = Number(page.limit);
        if (!(err instanceof GRPCResourceExhastedError) || limit <= 1) throw err;
        page = { ...page, limit: Math.max(1, Math.floor(limit / 8)) };
        continue;
      }
      kvs.push(...res.kvs);
      if (!res.more || res.kvs.length === 0) return { kvs, revision: Number(res.header.revision) };
      const last = res.kvs[res.kvs.length - 1].key;
      page = {
        ...page,
        key: Buffer.concat([last, Buffer.from([0])]),
        revision: res.header.revision,
      };
    }
  }

  dataKey(key: string): Buffer {
    return Buffer.from(this.dataPrefix + key);
  }

  /** The etcd range of the store keys under `prefix`. */
  dataRange(prefix: string): { key: Buffer; range_end: Buffer } {
    const key = this.dataKey(prefix);
    return { key, range_end: prefixEnd(key) };
  }

  userKey(etcdKey: Buffer): string {
    return etcdKey.toString('utf8').slice(this.dataPrefix.length);
  }

  /** The entry an etcd key-value holds, or undefined for a tombstone. */
  toEntry<T>(kv: IKeyValue): StoreEntry<T> | undefined {
    if (isTombstone(kv)) return undefined;
    const key = this.userKey(kv.key);
    let value: T;
    try {
      value = JSON.parse(kv.value.toString('utf8')) as T;
    } catch {
      // The parser's message would quote the value.
      throw new StoreError(`${this.where}: store key ${JSON.stringify(key)} does not hold JSON`);
    }
    return { key, value, revision: Number(kv.mod_revision) };
  }

  tombstone(): Buffer {
    return TOMBSTONE;
  }

  ensureOpen(what = 'use'): void {
    if (this.closed) throw new StoreError(`${this.where}: ${what}: the store is closed`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}

export function isTombstone(kv: IKeyValue): boolean {
  return kv.value.length === 0;
}

/** The first key after every key that starts with `prefix` (etcd's range_end for it). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}

/**
 * Ask members to refuse our calls while they know no leader (etcd's "hasleader" metadata,
 * the Go client's WithRequireLeader): a member cut off from the others then ends our watch
 * at once, and etcd3 moves it to another member, instead of the watch waiting in silence;
 * a call to it fails at once as "no leader" and goes to the next endpoint. etcd3 has no
 * option for call metadata: its authenticator's is extended.
 */
function requireLeader(client: Etcd3): void {
  interface Metadata {
    clone(): Metadata;
    set(key: string, value: string): void;
  }
  type Authenticator = { getMetadata?: () => Promise<Metadata> };
  const auth = (client as unknown as { pool?: { authenticator?: Authenticator } }).pool
    ?.authenticator;
  const original = auth?.getMetadata?.bind(auth);
  if (!auth || !original) return;
  auth.getMetadata = async () => {
    const metadata = (await original()).clone();
    metadata.set('hasleader', 'true');
    return metadata;
  };
}

const noSignal = new AbortController().signal;

/** No circuit breaker: a member that comes back is used again at once. */
export const passThrough = {
  execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) =>
    fn({ signal: noSignal }),
} as unknown as HostPolicy;

/** Try the next endpoint while the call certainly did not reach etcd. */
function retryWhenNotSent(attempts: number): GlobalPolicy {
  return {
    execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) => {
      let telling: unknown;
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn({ signal: noSignal });
        } catch (err) {
          // Reached etcd, or may have: its fate is this call's answer.
          if (!certainlyNotSent(err)) throw err;
          telling = telling === undefined ? err : moreTelling(telling, err);
          if (attempt >= attempts) throw telling;
          await new Promise((resolve) => setTimeout(resolve, 25 * attempt));
        }
      }
    },
  } as unknown as GlobalPolicy;
}

/** Reconnection delays for watch streams: exponential from `first` to `max`, with jitter. */
function backoff(first: number, max: number): WatchBackoff {
  const at = (ms: number): { duration: number; next(): unknown } => ({
    duration: ms / 2 + (Math.random() * ms) / 2,
    next: () => at(Math.min(max, ms * 2)),
  });
  return { next: () => at(first) } as unknown as WatchBackoff;
}
