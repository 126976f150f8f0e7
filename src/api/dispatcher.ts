// The JSON-RPC envelope: parse {method, params, id}, find the method case-insensitively,
// validate its params, call it, and shape Element's reply. Every failure, malformed input
// included, becomes {id, error: {code: 500, name, message}}; nothing here throws. Calls
// that can change state are written to the audit log with their caller and outcome.
import type { Logger } from 'pino';
import type { ClusterServices } from '../cluster';
import { isAuditedMethod, type AuditEvent } from '../cluster/audit';
import { ElementError } from '../cluster/errors';
import { StoreConflictError, StoreUnavailableError } from '../store/errors';
import type { ApiMethod } from './method';
import { compileParams, type ParamsValidator } from './params';
import { CURRENT_VERSION, SUPPORTED_VERSIONS } from './versions';

type RpcID = string | number | null;

export type RpcReply =
  | { id: RpcID; result: unknown; unusedParameters?: Record<string, string> }
  | { id: RpcID; error: { code: 500; name: string; message: string } };

interface Entry {
  method: ApiMethod;
  validator: ParamsValidator;
}

/** Who made the call: the authenticated user and the client's address. */
export interface Caller {
  user: string;
  remoteAddress: string;
}

/** Where audit events go (the store); a promise settles when the event is durable. */
export type AuditSink = (event: AuditEvent) => void | Promise<void>;

export class Dispatcher {
  private readonly table = new Map<string, Entry>();

  constructor(
    methods: ApiMethod[],
    private readonly services: ClusterServices,
    private readonly logger?: Logger,
    private readonly audit?: AuditSink,
  ) {
    for (const method of [getApi(() => this.names()), ...methods]) {
      const key = method.name.toLowerCase();
      if (this.table.has(key)) throw new Error(`API method ${method.name} defined twice`);
      this.table.set(key, { method, validator: compileParams(method.params) });
    }
  }

  names(): string[] {
    return [...this.table.values()].map((e) => e.method.name).sort();
  }

  async dispatch(body: string, caller?: Caller): Promise<RpcReply> {
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch (err) {
      return failure(
        null,
        'xInvalidJSON',
        `The request is not valid JSON: ${(err as Error).message}`,
      );
    }
    if (Array.isArray(request)) {
      return failure(null, 'xInvalidRequest', 'Batch requests are not supported.');
    }
    if (!isObject(request)) {
      return failure(null, 'xInvalidRequest', 'The request must be a JSON object.');
    }
    const id = request.id ?? null;
    if (typeof id !== 'string' && typeof id !== 'number' && id !== null) {
      return failure(null, 'xInvalidRequest', 'The request id must be a string or a number.');
    }
    const { method: name, params = {} } = request;
    if (typeof name !== 'string') {
      return failure(id, 'xInvalidRequest', 'Missing member=[method]');
    }
    const entry = this.table.get(name.toLowerCase());
    if (!entry) return failure(id, 'xUnknownAPIMethod', `Unknown API method method=${name}`);
    if (!isObject(params)) {
      return failure(
        id,
        'xInvalidParameter',
        'Invalid parameter params: must be an object of named members.',
      );
    }
    const started = process.hrtime.bigint();
    let reply: RpcReply;
    try {
      const unusedParameters = entry.validator.check(params);
      const result = await entry.method.handler(params, this.services);
      this.log(entry.method.name, id, started);
      reply = unusedParameters ? { id, result, unusedParameters } : { id, result };
    } catch (err) {
      const known = err instanceof ElementError ? err : storeFailure(err);
      if (known) {
        this.log(entry.method.name, id, started, known.elementName);
        if (!(err instanceof ElementError)) {
          this.logger?.warn({ method: entry.method.name, err: (err as Error).message }, 'store');
        }
        reply = failure(id, known.elementName, known.message);
      } else {
        this.logger?.error({ method: entry.method.name, err }, 'API method failed');
        reply = failure(id, 'xInternalError', "Internal error; see the node's log.");
      }
    }
    await this.record(entry, params, reply, caller);
    return reply;
  }

  /**
   * Audits a state-changing call and waits until the record is durable, so an answered call
   * has its record; a failing audit write is logged, never the caller's error.
   */
  private async record(
    entry: Entry,
    params: Record<string, unknown>,
    reply: RpcReply,
    caller: Caller | undefined,
  ): Promise<void> {
    const name = entry.method.name;
    if (!this.audit || !isAuditedMethod(name)) return;
    // Members the method does not know are named with their JSON type only: a misspelt
    // secret must not reach the log.
    const known = Object.fromEntries(
      Object.entries(params).map(([k, v]) => [
        k,
        entry.validator.knows(k) ? v : `[unknown ${v === null ? 'null' : typeof v}]`,
      ]),
    );
    try {
      await this.audit({
        source: 'api',
        action: name,
        user: caller?.user,
        remoteAddress: caller?.remoteAddress,
        params: known,
        outcome: 'error' in reply ? reply.error.name : 'ok',
      });
    } catch (err) {
      this.logger?.error({ method: name, err }, 'cannot write the audit log');
    }
  }

  private log(method: string, id: RpcID, started: bigint, error?: string): void {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    this.logger?.debug({ method, id, ms, error }, 'API call');
  }
}

function getApi(names: () => string[]): ApiMethod {
  return {
    name: 'GetAPI',
    params: { type: 'object', properties: {} },
    handler: () => ({
      [CURRENT_VERSION]: names(),
      currentVersion: CURRENT_VERSION,
      supportedVersions: SUPPORTED_VERSIONS,
    }),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The store's refusals a caller can act on: unreachable or without quorum (retry later; the
 * message says whether the write may have been applied), or too many concurrent writers.
 */
function storeFailure(err: unknown): ElementError | undefined {
  if (err instanceof StoreUnavailableError) {
    return new ElementError(
      'xClusterStoreUnavailable',
      `The cluster store is unavailable (${err.message}); retry once it is back.`,
    );
  }
  if (err instanceof StoreConflictError) {
    return new ElementError('xDBVersionMismatch', 'Concurrent changes kept conflicting; retry.');
  }
  return undefined;
}

function failure(id: RpcID, name: string, message: string): RpcReply {
  return { id, error: { code: 500, name, message } };
}
