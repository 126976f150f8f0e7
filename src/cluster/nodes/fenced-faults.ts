// The faults a master job raises and resolves, each change a fenced transaction: a node
// that is no longer master writes none (NotMasterError).
import type { MasterFence } from './master-fence';
import type { NodeFaults } from './offline-watch';

export function fencedFaults(faults: NodeFaults, fence: MasterFence): NodeFaults {
  return {
    raise: (code, subject, details) =>
      fence.transaction((tx) => faults.raiseIn(tx, code, subject, details)),
    resolve: (code, subject) => fence.transaction((tx) => faults.resolveIn(tx, code, subject)),
    raiseIn: (tx, code, subject, details) => faults.raiseIn(tx, code, subject, details),
    resolveIn: (tx, code, subject) => faults.resolveIn(tx, code, subject),
  };
}
