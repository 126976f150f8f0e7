// The DriveInventory port: which drives this node has, and when that changes. Real side:
// /sys/block + BLKGETSIZE64 + periodic GET_STATUS polling; simulated side: ekmd-sim.

export interface DriveInfo {
  /** Path the DriveTransport opens: /dev/nvme0n1 on hardware, "sim:N" for simulated drive N. */
  path: string;
  serial: string;
  model: string;
  capacityBytes: number;
  /** True when the drive answered GET_STATUS as an Opal device (not EOPNOTSUPP). */
  opal: boolean;
}

export type InventoryEvent =
  | { type: 'added'; drive: DriveInfo }
  | { type: 'removed'; path: string; serial: string }
  /** A drive that was unlocked is locked again (power loss, controller reset, resume). */
  | { type: 'relocked'; path: string; serial: string };

export interface DriveInventory {
  list(): Promise<DriveInfo[]>;
  /**
   * The serial of the drive at each of `paths` that has one, without opening any (what
   * list() does besides costs a round trip per drive): the early unlock's check that a
   * device is still the drive it was.
   */
  serialsAt?(paths: string[]): Promise<Map<string, string>>;
  /** Subscribe to plug/unplug/relock events; returns an unsubscribe. */
  watch(fn: (event: InventoryEvent) => void): () => void;
  close(): Promise<void>;
}
