// What each node's agent has done of a cluster-wide change: one marker per node under the
// change's prefix, `<prefix><nodeID>`, naming the target its own part reached (hardware EAR:
// `enabled` or `disabled`; software EAR: the master key that wraps all its DEKs). Whoever
// moves the change on reads the markers in the same transaction as its own write, so the
// store re-runs it when a marker it read changed: two nodes finishing at once cannot both
// miss each other. A node that is offline writes no marker; the change's rules say whether
// it is waited for.
import type { Json, StoreReader, StoreTx } from '../../store/store';
import { SINGLE_NODE_ID } from '../drives/drive-records';
import { activeNodes } from './node-records';

export interface NodeMarker {
  nodeID: number;
  reached: string;
  at: string;
}

export class NodeMarkers {
  constructor(readonly prefix: string) {}

  private key(nodeID: number): string {
    return `${this.prefix}${nodeID}`;
  }

  list(reader: StoreReader): NodeMarker[] {
    return reader.list<NodeMarker>(this.prefix).map((e) => e.value);
  }

  /** Whether `nodeID`'s part reached `target`. */
  reached(reader: StoreReader, nodeID: number, target: string): boolean {
    return reader.get<NodeMarker>(this.key(nodeID))?.value.reached === target;
  }

  record(tx: StoreTx, nodeID: number, reached: string): void {
    const marker: NodeMarker = { nodeID, reached, at: new Date().toISOString() };
    tx.put(this.key(nodeID), marker as unknown as Json);
  }

  /** At the start of a change: no node has done its part yet. */
  clear(tx: StoreTx): void {
    for (const m of this.list(tx)) tx.delete(this.key(m.nodeID));
  }

  /** The active nodes (node 1 alone while none is recorded) that have not reached `target`. */
  behind(reader: StoreReader, target: string): number[] {
    const nodes = activeNodes(reader).map((n) => n.nodeID);
    const all = nodes.length ? nodes : [SINGLE_NODE_ID];
    return all.filter((id) => !this.reached(reader, id, target));
  }
}
