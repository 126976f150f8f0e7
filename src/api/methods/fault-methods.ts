// ListClusterFaults and ClearClusterFaults (Element §6). faultTypes defaults differ on
// purpose, as in Element: listing shows all faults, clearing forgets the resolved ones.
import { FAULT_TYPES, type FaultService, type FaultTypes } from '../../cluster/faults';
import { bool, defineMethod, type ApiMethod } from '../method';

const faultTypes = { enum: [...FAULT_TYPES] };

export function faultMethods(faults: FaultService): ApiMethod[] {
  return [
    // bestPractices selects sub-optimal-configuration faults; ekmd raises none of those,
    // so it is accepted and changes nothing.
    defineMethod<{ bestPractices?: boolean; faultTypes?: FaultTypes }>({
      name: 'ListClusterFaults',
      params: { type: 'object', properties: { bestPractices: bool, faultTypes } },
      handler: (p) => ({ faults: faults.list(p.faultTypes ?? 'all') }),
    }),
    defineMethod<{ faultTypes?: FaultTypes }>({
      name: 'ClearClusterFaults',
      params: { type: 'object', properties: { faultTypes } },
      handler: async (p) => {
        await faults.clear(p.faultTypes ?? 'resolved');
        return {};
      },
    }),
  ];
}
