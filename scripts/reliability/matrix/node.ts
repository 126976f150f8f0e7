// One node for a fault-matrix cell or a load run: ekmd-sim's drives and ekmd as real
// processes in a fresh directory, driven through the public API and the simulator's
// socket, as an operator and the enclosure would.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_CERT_FILE } from '../../../src/store/state-files';
import { SimConnection } from '../../../src/opal/sim-socket/connection';
import type { DriveStatus } from '../../../src/sim/drive/sim-drive';
import { BINS, Child } from './child';
import { RpcClient } from './rpc';

export const ADMIN = { username: 'admin', password: 'matrix-admin-pw' };
/** The CN of the node's key pair: the dev PKI's client identity shares it (KMIP ownership). */
export const NODE_CN = 'storage-node-1';

export interface NodeOptions {
  dir: string;
  drives?: number;
  /** Absolute stateDir (e.g. on a small mount); default DIR/state. */
  stateDir?: string;
  kmip?: { connectTimeoutMs?: number; requestTimeoutMs?: number };
  retryMaxDelayMs?: number;
  /** Variables every ekmd start adds to this process's environment (e.g. the unit's). */
  env?: Record<string, string>;
}

export interface CurrentFault {
  code: string;
  details: string;
  driveIDs: number[];
  resolved: boolean;
}

/** A kmipServerFault's cause, without the "Key server NAME (HOST:PORT) of key provider N:" prefix. */
export function faultCause(details: string): string {
  return details.replace(/^Key server .*? of key provider \d+: /, '').slice(0, 150);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it returns a value other than undefined/false. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not seen in ${ms} ms${last ? ` (${(last as Error).message})` : ''}`);
    await sleep(100);
  }
}

export class MatrixNode {
  readonly socket: string;
  readonly stateDir: string;
  readonly config: string;
  sim!: Child;
  ekmd: Child | undefined;
  api: RpcClient | undefined;
  /** drive index → lba → block written before the fault. */
  private readonly pattern = new Map<number, Map<number, Buffer>>();
  private readonly conn: SimConnection;

  private constructor(readonly opts: NodeOptions) {
    this.socket = join(opts.dir, 'sim.sock');
    this.stateDir = opts.stateDir ?? join(opts.dir, 'state');
    this.config = join(opts.dir, 'ekmd.json');
    this.conn = new SimConnection(this.socket);
  }

  static async start(opts: NodeOptions): Promise<MatrixNode> {
    const node = new MatrixNode(opts);
    mkdirSync(opts.dir, { recursive: true });
    writeFileSync(
      node.config,
      JSON.stringify({
        stateDir: node.stateDir,
        api: { listen: '127.0.0.1:0' },
        admin: ADMIN,
        drives: { backend: 'sim', sim: { socket: node.socket } },
        kmip: { connectTimeoutMs: 2000, requestTimeoutMs: 5000, ...opts.kmip },
        unlock: { retry: { maxDelayMs: opts.retryMaxDelayMs ?? 2000 } },
        log: { level: 'info' },
      }),
      { mode: 0o600 }, // it holds the bootstrap password: ekmd refuses it readable by others
    );
    node.sim = new Child('ekmd-sim', [
      BINS.ekmdSim,
      'serve',
      '--state',
      join(opts.dir, 'sim'),
      '--socket',
      node.socket,
      '--drives',
      String(opts.drives ?? 3),
      '--size',
      '4',
      '--log-level',
      'warn',
    ]);
    await node.sim.waitFor(/ekmd-sim: serving/);
    return node;
  }

  /** Starts ekmd and waits for "ekmd ready"; `env` adds e.g. EKMD_TEST_HOOKS. */
  async startEkmd(env: NodeJS.ProcessEnv = {}): Promise<void> {
    this.api?.close();
    this.ekmd = new Child('ekmd', [BINS.ekmd, '--config', this.config], {
      ...process.env,
      ...this.opts.env,
      ...env,
    });
    const m = await this.ekmd.waitFor(/^.*"msg":"ekmd ready".*$/m);
    const port = (JSON.parse(m[0]) as { api: { port: number } }).api.port;
    const ca = readFileSync(join(this.stateDir, API_CERT_FILE), 'utf8');
    this.api = new RpcClient(port, ca, ADMIN);
  }

  /** Starts ekmd expecting it to exit: its exit code and output. */
  async ekmdRefuses(ms = 20_000): Promise<{ code: number | null; output: string }> {
    const child = new Child('ekmd', [BINS.ekmd, '--config', this.config]);
    const timer = setTimeout(() => child.proc.kill('SIGKILL'), ms);
    const { code } = await child.exited;
    clearTimeout(timer);
    return { code, output: child.output() };
  }

  async stopEkmd(): Promise<void> {
    this.api?.close();
    this.api = undefined;
    await this.ekmd?.stop();
  }

  get rpc(): RpcClient {
    if (!this.api) throw new Error('ekmd is not running');
    return this.api;
  }

  // --- the simulator ---

  async simOp(header: Record<string, unknown>, payload?: Buffer) {
    return this.conn.request(header, payload);
  }

  async simStatus(): Promise<DriveStatus[]> {
    return (await this.simOp({ op: 'status' })).header.drives as DriveStatus[];
  }

  async powerCycle(): Promise<void> {
    await this.simOp({ op: 'power-cycle' });
  }

  /** Writes random blocks at a few LBAs of every drive, remembered for checkData. */
  async writePattern(): Promise<void> {
    for (const d of await this.simStatus()) {
      const blocks = new Map<number, Buffer>();
      for (const lba of [0, 1, 77, 4000]) {
        const block = randomBytes(512);
        await this.simOp({ op: 'write', drive: d.index, lba }, block);
        blocks.set(lba, block);
      }
      this.pattern.set(d.index, blocks);
    }
  }

  /** '' when every block written by writePattern reads back the same; else what differs. */
  async checkData(): Promise<string> {
    const bad: string[] = [];
    for (const [drive, blocks] of this.pattern) {
      for (const [lba, block] of blocks) {
        try {
          const r = await this.simOp({ op: 'read', drive, lba });
          if (!r.payload.equals(block)) bad.push(`drive ${drive} lba ${lba} differs`);
        } catch (err) {
          bad.push(`drive ${drive} lba ${lba}: ${(err as Error).message}`);
        }
      }
    }
    return bad.join('; ');
  }

  // --- the API ---

  /** CreateCluster (`extra`: e.g. enableSoftwareEncryptionAtRest), a key pair (CN storage-node-1) and its CSR. */
  async createCluster(extra: Record<string, unknown> = {}): Promise<string> {
    await this.rpc.ok('CreateCluster', {
      ...extra,
      acceptEula: true,
      mvip: '127.0.0.1',
      svip: '127.0.0.1',
      nodes: ['127.0.0.1'],
      username: ADMIN.username,
      password: ADMIN.password,
    });
    await this.rpc.ok('CreatePublicPrivateKeyPair', { commonName: NODE_CN });
    return (await this.rpc.ok('GetClientCertificateSignRequest'))
      .clientCertificateSignRequest as string;
  }

  async enableEar(keyProviderID?: number): Promise<void> {
    await this.rpc.ok('EnableEncryptionAtRest', keyProviderID ? { keyProviderID } : {});
    await this.waitEarState('enabled');
  }

  async waitEarState(state: string, ms = 60_000): Promise<void> {
    await until(
      `encryptionAtRestState ${state}`,
      async () => (await this.rpc.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState === state,
      ms,
    );
  }

  async drives(): Promise<Record<string, any>[]> {
    return (await this.rpc.ok('ListDrives')).drives as Record<string, any>[];
  }

  async currentFaults(): Promise<CurrentFault[]> {
    return (await this.rpc.ok('ListClusterFaults', { faultTypes: 'current' }))
      .faults as CurrentFault[];
  }

  async faultCodes(): Promise<string[]> {
    return [...new Set((await this.currentFaults()).map((f) => f.code))].sort();
  }

  async waitFault(code: string, ms = 30_000): Promise<CurrentFault> {
    return until(
      `fault ${code}`,
      async () => (await this.currentFaults()).find((f) => f.code === code),
      ms,
    );
  }

  async waitNoFaults(ms = 30_000): Promise<void> {
    await until('no current faults', async () => (await this.currentFaults()).length === 0, ms);
  }

  /** Waits until no plugged drive under EAR is locked. */
  async waitUnlocked(ms = 30_000): Promise<void> {
    const keyed = new Set(
      (await this.drives()).filter((d) => d.keyID).map((d) => d.serial as string),
    );
    await until(
      'every drive unlocked',
      async () =>
        (await this.simStatus()).every((s) => !keyed.has(s.serial) || !s.plugged || !s.locked),
      ms,
    );
  }

  async close(): Promise<void> {
    this.api?.close();
    await this.conn.close().catch(() => undefined);
    await this.ekmd?.stop(5000);
    await this.sim?.stop(5000);
  }
}
