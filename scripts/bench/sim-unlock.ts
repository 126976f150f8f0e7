// 1,000 simulated unlocks through the ekmd-sim socket (goal: < 1 s in total). Each unlock is
// a real state change: the range is locked again (untimed) before every timed unlock, so
// each one authenticates Admin1, unwraps the media key and journals the volatile state.
// Client and server share this process (a real Unix socket between them) so that CPU time
// can be reported beside wall time: on a loaded machine wall time measures the neighbours.
// Also: `ekmd-sim serve` start-up until it serves, with and without NODE_EXTRA_CA_CERTS.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IOC_OPAL_ACTIVATE_LSP,
  IOC_OPAL_LOCK_UNLOCK,
  IOC_OPAL_LR_SETUP,
  IOC_OPAL_TAKE_OWNERSHIP,
  OpalLockState,
  OpalUser,
  encodeOpalKey,
  encodeOpalLockUnlock,
  encodeOpalLrAct,
  encodeOpalUserLrSetup,
} from '../../src/opal/abi';
import { SimTransport } from '../../src/opal/sim-socket/transport';
import { SimServer } from '../../src/sim/server';
import { Simulator } from '../../src/sim/simulator';

const UNLOCKS = 1000;
const GOAL_MS = 1000;
const bin = join(__dirname, '../../src/sim/main.js');

function startServe(dir: string, env: NodeJS.ProcessEnv) {
  const sock = join(dir, `sim-${Date.now()}.sock`);
  const t0 = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--state', join(dir, 'state'), '--socket', sock, '--drives', '1', '--size', '8'],
    { stdio: ['ignore', 'pipe', 'inherit'], env },
  );
  return new Promise<{ sock: string; ms: number; stop: () => Promise<void> }>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (!d.toString().includes('serving')) return;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const stop = () =>
        new Promise<void>((r) => {
          child.once('exit', () => r());
          child.kill('SIGTERM');
        });
      resolve({ sock, ms, stop });
    });
    child.once('exit', (code) => reject(new Error(`ekmd-sim serve exited ${code}`)));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-sim-'));
  try {
    const noCa = { ...process.env, NODE_EXTRA_CA_CERTS: '' };
    const cold = await startServe(dir, process.env);
    await cold.stop();
    const plain = await startServe(dir, noCa);
    await plain.stop();
    const sim = new Simulator({ stateDir: join(dir, 'inproc'), drives: 1, sizeMiB: 8 });
    const server = new SimServer(sim, join(dir, 'inproc.sock'));
    await server.listen();
    const tr = new SimTransport(server.socketPath);
    const fd = await tr.open('sim:0');
    const pin = randomBytes(32);
    const session = { sum: false, who: OpalUser.ADMIN1, opalKey: { lr: 0, key: pin } };
    const call = async (req: number, buf: Buffer) => {
      const r = await tr.ioctl(fd, req, buf);
      if (r.rc !== 0) throw new Error(`ioctl 0x${req.toString(16)} rc ${r.rc}`);
    };
    await call(IOC_OPAL_TAKE_OWNERSHIP.request, encodeOpalKey({ lr: 0, key: pin }));
    await call(
      IOC_OPAL_ACTIVATE_LSP.request,
      encodeOpalLrAct({ key: { lr: 0, key: pin }, sum: false, lr: [0] }),
    );
    await call(
      IOC_OPAL_LR_SETUP.request,
      encodeOpalUserLrSetup({ rangeStart: 0n, rangeLength: 0n, rle: true, wle: true, session }),
    );
    const lock = encodeOpalLockUnlock({ session, lState: OpalLockState.LK });
    const unlock = encodeOpalLockUnlock({ session, lState: OpalLockState.RW });
    let unlockNs = 0n;
    let unlockCpuUs = 0;
    const wall0 = process.hrtime.bigint();
    for (let i = 0; i < UNLOCKS; i++) {
      await call(IOC_OPAL_LOCK_UNLOCK.request, lock);
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      await call(IOC_OPAL_LOCK_UNLOCK.request, unlock);
      const c = process.cpuUsage(c0);
      unlockCpuUs += c.user + c.system;
      unlockNs += process.hrtime.bigint() - t0;
    }
    const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
    const unlockMs = Number(unlockNs) / 1e6;
    const cpuMs = unlockCpuUs / 1000;
    lock.fill(0);
    unlock.fill(0);
    pin.fill(0);
    await tr.end();
    await server.close();
    sim.close();

    console.log(`sim-unlock: ${UNLOCKS} unlocks through the socket (each after a relock)`);
    console.log(`  unlocks total      ${unlockMs.toFixed(0)} ms wall  (goal < ${GOAL_MS} ms)`);
    console.log(`  unlocks CPU time   ${cpuMs.toFixed(0)} ms  (client + server)`);
    console.log(`  per unlock         ${((unlockMs * 1000) / UNLOCKS).toFixed(0)} µs wall`);
    console.log(`  lock+unlock wall   ${wallMs.toFixed(0)} ms for ${UNLOCKS * 2} ioctls`);
    console.log(
      `  ekmd-sim serve start-up: ${cold.ms.toFixed(0)} ms with NODE_EXTRA_CA_CERTS as set,`,
    );
    console.log(`                           ${plain.ms.toFixed(0)} ms with it unset`);
    console.log(`  load average       ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`);
    console.log(`  ${unlockMs < GOAL_MS ? 'PASS' : 'MISS'}: goal < ${GOAL_MS} ms (wall)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`sim-unlock: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
