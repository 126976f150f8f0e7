// The contract suite: one set of cases, registered against whichever backend a test file
// brings (test/store/contract/*.test.ts).
import type { Test } from 'tap';
import type { Backend } from './backends';
import { kvCases } from './cases-kv';
import { leaseCases } from './cases-lease';
import { txCases } from './cases-tx';
import { watchCases } from './cases-watch';

export const allCases = { ...kvCases, ...txCases, ...watchCases, ...leaseCases };

export function runContract(
  t: Test,
  backend: Backend,
  only: (name: string) => boolean = () => true,
): void {
  for (const [name, run] of Object.entries(allCases)) {
    if (only(name)) t.test(`${backend.name}: ${name}`, (tt) => run(tt, backend));
  }
}
