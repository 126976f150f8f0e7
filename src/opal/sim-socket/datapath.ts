// DataPath of the simulator: the DEK layer above the simulated drives' media encryption.
import type { DataPath } from '../datapath';
import { SimConnection } from './connection';

export class SimDataPath implements DataPath {
  private readonly conn: SimConnection;

  constructor(socketPath: string) {
    this.conn = new SimConnection(socketPath);
  }

  /** The DEK is copied into one frame, zeroed once written; the caller zeroes its own. */
  async attach(serial: string, dek: Buffer): Promise<void> {
    await this.conn.request({ op: 'attach', serial }, dek);
  }

  async detach(serial: string): Promise<void> {
    await this.conn.request({ op: 'detach', serial });
  }

  async isAttached(serial: string): Promise<boolean> {
    const { header } = await this.conn.request({ op: 'is-attached', serial });
    return header.attached === true;
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}
