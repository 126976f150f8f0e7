// An API server on loopback over a real SQLite store in a fresh directory, with the
// daemon's later method sets behind services that refuse every call, and a raw HTTPS
// poster: hostile requests need bodies and headers no well-behaved client would send.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiMethod, type ApiServer } from '../../../../src/api';
import { API_CERT_FILE } from '../../../../src/store/state-files';
import { withoutAudit } from '../../../../src/cluster/audit';
import { asyncMethods } from '../../../../src/api/methods/async-methods';
import { driveMethods } from '../../../../src/api/methods/drive-methods';
import { earMethods } from '../../../../src/api/methods/ear-methods';
import { faultMethods } from '../../../../src/api/methods/fault-methods';
import { searMethods, withSearDriveStatus } from '../../../../src/api/methods/sear-methods';
import { ElementError } from '../../../../src/cluster/errors';
import type { KeyServerTester } from '../../../../src/cluster/key-servers/key-server-tester';
import { openSealer, openSqliteStore, type SqliteStore } from '../../../../src/store';

export const ADMIN = { username: 'admin', password: 'admin-secret-1' };
/** What a stubbed service answers: the request got past validation. */
export const STUB_REACHED = 'xServiceNotWired';

/** A service whose every member throws a documented-shaped error. */
function refusingService<T>(): T {
  return new Proxy({} as object, {
    get: () => () => {
      throw new ElementError(STUB_REACHED, 'not wired in this node');
    },
  }) as T;
}

/** Never contacts anything: hostile hostnames must not leave the machine. */
const noContact: KeyServerTester = {
  test: async () => ({ ok: false, failedStep: 'connect', message: 'no contact in fuzzing' }),
};

export interface RawReply {
  status: number;
  text: string;
}

export class HostileApiNode {
  private readonly agent: Agent;

  private constructor(
    readonly dir: string,
    readonly store: SqliteStore,
    readonly api: ApiServer,
    ca: string,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 4, ca });
  }

  /**
   * The later method sets as the daemon registers them (src/daemon/boot.ts): drives with
   * RetryDriveUnlock and ListDrives decorated by SEAR, EAR, async results, SEAR, faults.
   */
  static extraMethods(): ApiMethod[] {
    return [
      ...withSearDriveStatus(
        [
          ...driveMethods(refusingService(), true),
          ...earMethods(refusingService()),
          ...asyncMethods(refusingService()),
        ],
        refusingService(),
      ),
      ...searMethods(refusingService()),
      ...faultMethods(refusingService()),
    ];
  }

  static async start(): Promise<HostileApiNode> {
    const dir = mkdtempSync(join(tmpdir(), 'ekmd-hostile-api-'));
    const store = openSqliteStore(join(dir, 'ekmd.db'));
    const api = await startApiServer({
      store,
      sealer: openSealer({ stateDir: dir }),
      listen: { host: '127.0.0.1', port: 0 },
      stateDir: dir,
      bootstrapAdmin: ADMIN,
      tester: noContact,
      methods: HostileApiNode.extraMethods(),
      nodeName: 'node-1',
    });
    return new HostileApiNode(dir, store, api, readFileSync(join(dir, API_CERT_FILE), 'utf8'));
  }

  /** Every store entry, to compare before and after. */
  snapshot(): string {
    // The audit log records refused calls too: it is not part of the state compared.
    return JSON.stringify(withoutAudit(this.store.list('')));
  }

  /** POST `body`; `auth` null sends no Authorization header. */
  post(body: string | Buffer, auth: string | null = basic(ADMIN)): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (auth !== null) headers.Authorization = auth;
      const req = request(
        {
          host: '127.0.0.1',
          port: this.api.address.port,
          path: '/json-rpc/12.3',
          method: 'POST',
          agent: this.agent,
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.api.close();
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function basic(who: { username: string; password: string }): string {
  return 'Basic ' + Buffer.from(`${who.username}:${who.password}`).toString('base64');
}
