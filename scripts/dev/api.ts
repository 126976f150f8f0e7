// ekmd's API as the dev start calls it: the scripts' JSON-RPC client, whose failures become
// StartErrors (an error answer's "method: xName: message" is the whole story).
import { RpcClient } from '../reliability/matrix/rpc';
import { StartError } from './common';

export class DevApi extends RpcClient {
  override async ok(method: string, params: object = {}): Promise<Record<string, any>> {
    try {
      return await super.ok(method, params);
    } catch (err) {
      throw new StartError((err as Error).message);
    }
  }
}
