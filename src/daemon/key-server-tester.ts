// Wiring point: how the API's Test*, Modify and AddKeyServerToProvider methods reach key
// servers. Until the KMIP client is wired here, every test reports that it cannot connect,
// which the API turns into an Element error; nothing is ever reported as working.
import type { KeyServerTester } from '../cluster/key-server-tester';
import type { Config } from './config';

export function keyServerTester(_config: Config): KeyServerTester {
  return {
    async test() {
      return {
        ok: false,
        failedStep: 'connect',
        message: 'this ekmd build has no KMIP client wired in',
      };
    },
  };
}
