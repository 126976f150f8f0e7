// DriveInventory of the simulated enclosure: the list and plug/unplug/relock events come
// from ekmd-sim over its socket.
import type { DriveInfo, DriveInventory, InventoryEvent } from '../inventory';
import { SimConnection } from './connection';

export class SimInventory implements DriveInventory {
  private readonly conn: SimConnection;
  private subscribed: Promise<unknown> | null = null;

  constructor(socketPath: string) {
    this.conn = new SimConnection(socketPath);
  }

  async list(): Promise<DriveInfo[]> {
    const { header } = await this.conn.request({ op: 'list' });
    return header.drives as DriveInfo[];
  }

  /** One `list` request, whatever the number of paths. */
  async serialsAt(paths: string[]): Promise<Map<string, string>> {
    const wanted = new Set(paths);
    const serials = new Map<string, string>();
    for (const d of await this.list()) if (wanted.has(d.path)) serials.set(d.path, d.serial);
    return serials;
  }

  watch(fn: (event: InventoryEvent) => void): () => void {
    const off = this.conn.onEvent((e) => fn(e as unknown as InventoryEvent));
    // Subscribing is idempotent on the server; a failure shows up on the next request.
    this.subscribed ??= this.conn.request({ op: 'subscribe' }).catch(() => {
      this.subscribed = null;
    });
    return off;
  }

  /** Resolves once the simulator has confirmed the subscription (tests wait on it). */
  async ready(): Promise<void> {
    await this.subscribed;
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}
