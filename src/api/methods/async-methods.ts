// GetAsyncResult and ListAsyncResults (Element 5.8): two shapes of the same records.
import type { AsyncResultService } from '../../cluster/async-results/async-results';
import { bool, defineMethod, id, type ApiMethod } from '../method';

export function asyncMethods(results: AsyncResultService): ApiMethod[] {
  return [
    defineMethod<{ asyncHandle: number; keepResult?: boolean }>({
      name: 'GetAsyncResult',
      params: {
        type: 'object',
        properties: { asyncHandle: id, keepResult: bool },
        required: ['asyncHandle'],
      },
      handler: (p) => results.get(p.asyncHandle, p.keepResult ?? false),
    }),
    defineMethod<{ asyncResultTypes?: string[] }>({
      name: 'ListAsyncResults',
      params: {
        type: 'object',
        properties: {
          asyncResultTypes: {
            type: 'array',
            items: { type: 'string', minLength: 1, maxLength: 64 },
            maxItems: 32,
          },
        },
      },
      handler: (p) => ({ asyncHandles: results.list(p.asyncResultTypes) }),
    }),
  ];
}
