// Random hostile requests against a HostileApiNode: a reply outside the documented ones,
// or a store changed by a refused request, counts as a crash.
import { builtInMethods, type ApiMethod } from '../../../../src/api';
import { noParams } from '../../../../src/api/method';
import type { FuzzTarget } from '../runner';
import { randomApiCase, replyProblem, type ApiCase } from './api-cases';
import { HostileApiNode } from './api-node';

export class ApiContractError extends Error {
  override name = 'ApiContractError';
}

/** The method table a HostileApiNode serves; GetAPI is the dispatcher's own. */
export function servedMethods(): ApiMethod[] {
  const getApi: ApiMethod = { name: 'GetAPI', params: noParams, handler: () => undefined };
  return [getApi, ...builtInMethods, ...HostileApiNode.extraMethods()];
}

/** Post one case; throws ApiContractError when the answer or the store is wrong. */
export async function checkCase(
  node: HostileApiNode,
  c: ApiCase,
): Promise<'accepted' | 'rejected'> {
  const before = node.snapshot();
  const reply = await node.post(c.body, c.auth);
  const problem = replyProblem(c, reply);
  if (problem) throw new ApiContractError(`${c.label}: ${problem}`);
  const refused = reply.status !== 200 || !('result' in (JSON.parse(reply.text) as object));
  if (refused && node.snapshot() !== before)
    throw new ApiContractError(`${c.label}: refused, but the store changed`);
  return refused ? 'rejected' : 'accepted';
}

export function apiTarget(node: HostileApiNode): FuzzTarget<ApiCase> {
  const methods = servedMethods();
  return {
    generate: (rng) => randomApiCase(rng, methods),
    run: (c) => checkCase(node, c),
    isOwnError: () => false,
    describe: (c) => `${c.label}: ${c.body.toString().slice(0, 120)}`,
  };
}
