// One node of the cluster harness: its ekmd-sim and its ekmd, on the node's loopback
// address 127.0.0.N, with its config, state and API certificate in the node's folder.
// A node can be killed (kill -9), stopped and started again on the same state, as a
// machine that crashes or reboots.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/util/atomic-file';
import { apiCert } from './api-cert';
import { Proc } from './proc';

const dist = join(__dirname, '../..');
const EKMD = join(dist, 'src/daemon/main.js');
const EKMD_SIM = join(dist, 'src/sim/main.js');
/** ekmd's boot is bounded by its KMIP timeouts; this is room for a slow shared machine. */
const READY_MS = 90_000;

export interface NodeOptions {
  /** ekmd's log level (default info). */
  logLevel?: string;
  /** Added to ekmd's environment (the unit's malloc settings, test hooks). */
  env?: Record<string, string>;
  /** Given node N's ekmd stdout as it arrives (the dev command's pretty log). */
  echo?: (index: number) => ((chunk: Buffer) => void) | undefined;
  /** Power-cycle the simulated drives before ekmd starts: every start is a node boot. */
  powerCycle?: boolean;
  /** Told when node N's ekmd is spawned (the dev command times its boot unlock from it). */
  spawned?: (index: number, at: number) => void;
}

export interface NodeSetup {
  index: number;
  dir: string;
  logs: string;
  apiPort: number;
  drives: number;
  admin: { username: string; password: string };
  etcd: { endpoints: string[]; prefix: string };
  options: NodeOptions;
}

export class ClusterNode {
  readonly index: number;
  readonly ip: string;
  readonly port: number;
  readonly stateDir: string;
  readonly config: string;
  readonly simSocket: string;
  /** The API certificate's PEM: a client's CA for this node. */
  readonly ca: string;
  sim: Proc | undefined;
  ekmd: Proc | undefined;

  constructor(private readonly setup: NodeSetup) {
    const { index, dir } = setup;
    this.index = index;
    this.ip = `127.0.0.${index}`;
    this.port = setup.apiPort;
    this.stateDir = join(dir, 'ekmd');
    this.config = join(dir, 'ekmd.json');
    this.simSocket = join(dir, 'sim.sock');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const cert = apiCert(dir, this.ip);
    this.ca = cert.pem;
    // 0600: ekmd refuses a config holding a password that others can read.
    const config = {
      stateDir: this.stateDir,
      api: { listen: `${this.ip}:${this.port}`, tls: { cert: cert.cert, key: cert.key } },
      admin: setup.admin,
      drives: { backend: 'sim', sim: { socket: this.simSocket } },
      store: { backend: 'etcd', etcd: setup.etcd },
      node: { name: `node-${index}`, ip: this.ip },
      log: { level: setup.options.logLevel ?? 'info' },
    };
    writeFileAtomic(this.config, `${JSON.stringify(config, null, 2)}\n`, 0o600, false);
  }

  /**
   * Its simulator (if not running), then ekmd; resolves when ekmd logs that it is ready.
   * `env` is added to ekmd's environment for this start only (a crash point armed, say).
   */
  async start(options: { env?: Record<string, string> } = {}): Promise<void> {
    const { index, dir, logs } = this.setup;
    if (!this.sim?.alive) {
      this.sim = new Proc(`sim-${index}`, join(logs, `sim-${index}.log`), [
        ...[EKMD_SIM, 'serve', '--state', join(dir, 'sim'), '--socket', this.simSocket],
        ...['--drives', String(this.setup.drives), '--log-level', 'warn'],
      ]);
      await this.sim.waitFor(/ekmd-sim: serving/, 'serving', 30_000);
    }
    if (this.setup.options.powerCycle) await powerCycle(this.simSocket);
    if (this.ekmd?.alive) throw new Error(`node ${index}: ekmd is already running`);
    this.ekmd = new Proc(
      `ekmd-${index}`,
      join(logs, `ekmd-${index}.log`),
      [EKMD, '--config', this.config],
      { ...this.setup.options.env, ...options.env },
      this.setup.options.echo?.(index),
    );
    this.setup.options.spawned?.(index, Date.now());
    await this.ready();
  }

  /** Resolves once this start of ekmd has logged "ekmd ready". */
  async ready(): Promise<void> {
    await this.ekmd!.waitFor(/"msg":"ekmd ready"/, 'ready', READY_MS);
  }

  /** kill -9 of ekmd (its simulator runs on, as the drives of a crashed node stay). */
  async kill9(): Promise<void> {
    await this.ekmd?.kill9();
  }

  /** A clean stop of ekmd (SIGTERM). */
  async stop(): Promise<void> {
    await this.ekmd?.stop();
  }

  /** ekmd, then the simulator. */
  async stopAll(): Promise<void> {
    await this.ekmd?.stop();
    await this.sim?.stop();
  }

  /** The JSON log lines of ekmd's latest start so far. */
  logLines(): Record<string, unknown>[] {
    const lines: Record<string, unknown>[] = [];
    for (const text of (this.ekmd?.output() ?? '').split('\n')) {
      if (!text.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // a line cut short by a kill
      }
    }
    return lines;
  }
}

/** Every simulated drive power-cycled (locked again), as at a node's boot. */
function powerCycle(socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [EKMD_SIM, 'power-cycle', '--socket', socket], (err, stdout) => {
      if (err) reject(new Error(`power-cycle failed: ${err.message} ${stdout}`));
      else resolve();
    });
  });
}
