// The dev key server in this process, for the cells that make it misbehave: its fault
// hook (refuse, stall, delay MS, reason NAME, garbage, clear, the words of `ekmctl kmip
// dev-server inject`), going down and coming back on the same port, another certificate.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevKmipServer, OBJECT_FILE, parseFault } from '../../../src/kmip/server';
import type { DevPki, PkiIdentity } from '../../pki/dev-pki';

export class FaultyKeyServer {
  private server: DevKmipServer | undefined;
  port = 0;

  private constructor(
    readonly dir: string,
    private readonly pki: DevPki,
    private identity: PkiIdentity,
  ) {}

  static async start(dir: string, pki: DevPki, identity = pki.server): Promise<FaultyKeyServer> {
    const eks = new FaultyKeyServer(dir, pki, identity);
    await eks.up();
    return eks;
  }

  get objectFile(): string {
    return join(this.dir, OBJECT_FILE);
  }

  /** Starts (again) on the port it had, with `identity`'s certificate when given. */
  async up(identity?: PkiIdentity): Promise<void> {
    if (identity) this.identity = identity;
    const read = (p: string) => readFileSync(p, 'utf8');
    this.server = await DevKmipServer.start({
      stateDir: this.dir,
      host: '127.0.0.1',
      port: this.port,
      ca: read(this.pki.ca),
      cert: read(this.identity.cert),
      key: read(this.identity.key),
    });
    this.port = this.server.address.port;
  }

  /** Down: the port refuses connections. */
  async down(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  inject(...words: string[]): void {
    const f = parseFault(words);
    if (!this.server) throw new Error('the dev key server is down');
    if (f === 'drop') this.server.dropConnections();
    else this.server.fault = f;
  }

  /** An EKS backup: a copy of its object file. */
  backup(to: string): void {
    copyFileSync(this.objectFile, to);
  }

  /** Restores a backup: down, file back, up. */
  async restore(from: string): Promise<void> {
    await this.down();
    copyFileSync(from, this.objectFile);
    await this.up();
  }

  async close(): Promise<void> {
    await this.down();
  }
}
