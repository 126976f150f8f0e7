// The embedded default (`npm start`): ekmd with ekmd-sim's drives and the dev key server,
// all on loopback, state in .state/ at the repository root. Every start is a node boot:
// the drives are power-cycled first. The first start sets the cluster up through the
// public API (resumable: each step looks at what already exists). Development only.
//
//   node dist/scripts/dev/start.js [--state DIR] [--port N] [--nodes N]
//
// With --nodes N (2..8), a cluster of N nodes on 127.0.0.1..N over etcd instead
// (start-cluster.ts).
// The parts: children.ts runs and stops the three processes, dev-key-server.ts the key
// server, cluster-setup.ts the API set-up, boot-report.ts the drives' lines at the end.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { API_CERT_FILE } from '../../src/store/state-files';
import type { StateLock } from '../../src/store/state-lock';
import { makeDevPki } from '../pki/dev-pki';
import { shippedEnvironment } from '../reliability/load/unit-env';
import { runBin } from '../reliability/matrix/child';
import { DevApi } from './api';
import { reportBoot, watchBootUnlock } from './boot-report';
import { Children } from './children';
import { followKeyServerPort, setUpCluster } from './cluster-setup';
import {
  bins,
  layout,
  lockState,
  portFree,
  say,
  StartError,
  stateDirFrom,
  writeJson,
  type Layout,
} from './common';
import { startDevKeyServer } from './dev-key-server';
import { startDevCluster } from './start-cluster';
import { adminCredentials, writeEkmdConfig } from './ekmd-config';
import { prettyLines } from './pretty-log';

const USAGE = `Usage: node dist/scripts/dev/start.js [--state DIR] [--port N] [--logs pretty|off]
                                           [--nodes N]

Runs ekmd with 4 simulated drives (ekmd-sim) and the development key server, on loopback
only. The first start creates the cluster and enables encryption at rest with keys at the
dev key server; every start power-cycles the drives first (a node boot).
  --state DIR   state directory (default .state/ at the repository root)
  --port N      API port on 127.0.0.1 (default 8443)
  --logs pretty|off
                ekmd's log pretty-printed here (default on a terminal) or not; its
                JSON lines are always kept in the state directory's logs/ekmd.log
  --nodes N     a cluster of N nodes (2-8) instead: three etcd members (one with 2
                nodes), the dev key server, per node ekmd-sim and ekmd on 127.0.0.N at
                --port; state in the state directory's cluster-N/, logs in its logs/
`;

interface Options {
  state: string;
  port: number;
  logs: 'pretty' | 'off';
  /** Undefined: the single node. */
  nodes?: number;
}

/** The options, or the exit code when there is nothing to start. */
function options(argv: string[]): Options | number {
  let values: { state?: string; port?: string; logs?: string; nodes?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        state: { type: 'string' },
        port: { type: 'string' },
        logs: { type: 'string' },
        nodes: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    process.stderr.write(`start: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = values.port === undefined ? 8443 : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`start: --port must be 1..65535\n`);
    return 2;
  }
  const logs = values.logs ?? (process.stdout.isTTY ? 'pretty' : 'off');
  if (logs !== 'pretty' && logs !== 'off') {
    process.stderr.write(`start: --logs must be pretty or off\n`);
    return 2;
  }
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 2 || nodes > 8)) {
    process.stderr.write(`start: --nodes must be 2..8\n`);
    return 2;
  }
  return { state: stateDirFrom(values.state), port, logs, ...(nodes ? { nodes } : {}) };
}

/** The dev PKI, made once; the key server's identity in it. */
async function devPki(dir: string) {
  const caKey = join(dir, 'ca-key.pem');
  if (!existsSync(caKey) || !existsSync(join(dir, 'server-key.pem'))) {
    await makeDevPki(dir);
    say(`made a development PKI in ${dir}`);
  }
  return {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server-key.pem'),
  };
}

/** ekmd-sim with 4 drives, then a power cycle of them all: a start is a node boot. */
async function startSimulator(children: Children, L: Layout): Promise<void> {
  const sim = children.start('ekmd-sim', [
    bins.ekmdSim,
    'serve',
    '--state',
    L.sim,
    '--socket',
    L.simSocket,
    '--drives',
    '4',
    '--log-level',
    'warn',
  ]);
  await children.waitFor(sim, /ekmd-sim: serving/, 'serving');
  const cycled = await runBin(bins.ekmdSim, ['power-cycle', '--socket', L.simSocket]);
  if (cycled.code !== 0) throw new StartError(`power-cycle failed: ${cycled.out.trim()}`);
  say('power-cycled all drives (node boot)');
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  if (typeof opts === 'number') return opts;
  const { port } = opts;
  const L = layout(opts.state);
  mkdirSync(L.state, { recursive: true, mode: 0o700 });
  if (!existsSync(L.marker)) writeFileSync(L.marker, 'ekmd development state (npm run reset)\n');
  const lock = lockState(L.state);
  if (opts.nodes) return runCluster(L, opts.nodes, port, lock);
  if (!(await portFree(port))) {
    lock.release();
    throw new StartError(`127.0.0.1:${port} is busy (another ekmd?); choose another with --port N`);
  }
  mkdirSync(L.logs, { recursive: true, mode: 0o700 });
  say(`state in ${L.state}`);
  const pki = await devPki(L.pki);

  const children = new Children(L.logs);
  let stopSignal: string | undefined;
  const signalled = new Promise<string>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const)
      process.on(s, () => {
        stopSignal ??= s;
        resolve(s);
      });
  });
  const interrupted = signalled.then((s) => {
    throw new StartError(`${s} while starting`);
  });
  interrupted.catch(() => {});
  const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, children.died, interrupted]);
  let api: DevApi | undefined;

  try {
    await step(startSimulator(children, L));
    const kmipPort = await step(startDevKeyServer(children, L, pki, port));

    const admin = adminCredentials(L.admin);
    say(`admin credentials in ${L.admin}`);
    writeEkmdConfig(L.config, L, port, admin);
    const booted = Date.now(); // the node boot: ekmd starts, drives are locked
    const bootUnlock = watchBootUnlock(L.simSocket, booted);
    const ekmd = children.start(
      'ekmd',
      [bins.ekmd, '--config', L.config],
      opts.logs === 'pretty'
        ? prettyLines((text) => process.stdout.write(text), process.stdout.isTTY === true)
        : undefined,
      // The environment the systemd unit gives ekmd (its malloc settings), as a node runs it.
      shippedEnvironment(),
    );
    await step(children.waitFor(ekmd, /"msg":"ekmd ready"/, 'ready'));
    api = new DevApi(port, readFileSync(join(L.ekmdState, API_CERT_FILE), 'utf8'), admin);
    say(`ekmd API at https://127.0.0.1:${port}/json-rpc/12.3`);

    // The first start's set-up, resumable; later starts move the key server's entry only
    // when the dev key server could not have its port back.
    if (existsSync(L.setupDone)) {
      say('setup already done');
      await step(followKeyServerPort(api, kmipPort));
    } else {
      await step(followKeyServerPort(api, kmipPort));
      await step(setUpCluster(api, admin, L.pki, kmipPort));
      writeJson(L.setupDone, { done: new Date().toISOString() }, 0o644);
    }
    await step(reportBoot(api, L.simSocket, kmipPort, booted, bootUnlock));
    api.close();
    say('running; Ctrl-C stops everything');

    // Foreground until a signal or a child's death.
    await Promise.race([signalled, children.died]);
    say(`${stopSignal}: stopping`);
    await children.stopAll();
    lock.release();
    say('stopped');
    return 0;
  } catch (err) {
    const msg = err instanceof StartError ? err.message : String((err as Error).stack ?? err);
    process.stderr.write(`start: ${msg}\n`);
    api?.close();
    await children.stopAll();
    lock.release();
    if (stopSignal) say('stopped');
    return stopSignal && /while starting$/.test(msg) ? 0 : 1;
  }
}

/** The dev cluster until Ctrl-C (or a node's death); everything started is stopped. */
async function runCluster(L: Layout, nodes: number, port: number, lock: StateLock) {
  let stopSignal: string | undefined;
  const signalled = new Promise<string>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const)
      process.on(s, () => {
        stopSignal ??= s;
        resolve(s);
      });
  });
  const interrupted = signalled.then((s): never => {
    throw new StartError(`${s} while starting`);
  });
  interrupted.catch(() => {});
  try {
    const cluster = await startDevCluster(L, { nodes, port }, interrupted);
    say('running; Ctrl-C stops everything');
    const died = cluster.nodes.map((n) =>
      Promise.race([n.ekmd!.exited, n.sim!.exited]).then((how) => {
        throw new StartError(`node ${n.index} exited unexpectedly (${how}); logs in ${L.state}`);
      }),
    );
    for (const d of died) d.catch(() => {}); // those that lose the race, or die at the stop
    await Promise.race([signalled, ...died]).catch((err: Error) => {
      process.stderr.write(`start: ${err.message}\n`);
    });
    say(`${stopSignal ?? 'a node died'}: stopping`);
    await cluster.stop();
    say('stopped');
    return stopSignal ? 0 : 1;
  } catch (err) {
    const msg = err instanceof StartError ? err.message : String((err as Error).stack ?? err);
    process.stderr.write(`start: ${msg}\n`);
    if (stopSignal) say('stopped');
    return stopSignal && /while starting$/.test(msg) ? 0 : 1;
  } finally {
    lock.release();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`start: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
