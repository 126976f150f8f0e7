// One JSON-RPC method: its Element name, the JSON Schema of its named params, and the
// handler that calls into src/cluster. Later features add methods by adding entries.
import type { ClusterServices } from '../cluster';

export interface ParamsSchema {
  type: 'object';
  properties: Record<string, object>;
  required?: string[];
}

export interface ApiMethod<P = Record<string, unknown>> {
  /** Canonical (Element) spelling; requests match it case-insensitively. */
  name: string;
  params: ParamsSchema;
  handler(params: P, services: ClusterServices): unknown;
}

/** Keeps `P` checked against the handler while the table stores methods uniformly. */
export function defineMethod<P>(method: ApiMethod<P>): ApiMethod {
  return method as unknown as ApiMethod;
}

export const noParams: ParamsSchema = { type: 'object', properties: {} };

/** Reusable parameter schemas. */
export const id = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };
export const bool = { type: 'boolean' };
export const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength });
