// The contract suite: one set of cases, registered against whichever backend a test file
// brings (test/store/contract/*.test.ts). A case that needs what a backend lacks (nodes
// sharing the store, commits that can race) is not registered there.
import type { Test } from 'tap';
import type { Backend } from './backends';
import type { Case } from './helpers';
import { kvCases } from './cases-kv';
import { ownWriteCases } from './cases-own-writes';
import { leaseCases } from './cases-lease';
import { txCases } from './cases-tx';
import { watchCases } from './cases-watch';

export const allCases: Record<string, Case> = {
  ...kvCases,
  ...ownWriteCases,
  ...txCases,
  ...watchCases,
  ...leaseCases,
};

export function runContract(
  t: Test,
  backend: Backend,
  only: (name: string) => boolean = () => true,
): void {
  for (const [name, c] of Object.entries(allCases)) {
    if (c.needs === 'shared' && !backend.shared) continue;
    if (c.needs === 'racer' && !backend.racer) continue;
    if (only(name)) t.test(`${backend.name}: ${name}`, (tt) => c.run(tt, backend));
  }
}
