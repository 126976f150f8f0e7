// koffi ioctl overhead on /dev/null (the kernel answers ENOTTY without touching a drive).
// Goal: < 1 µs per synchronous call. Also: async calls through the capped transport, and
// `ekmctl opal status` start-up, with and without NODE_EXTRA_CA_CERTS.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import koffi from 'koffi';
import { join } from 'node:path';
import { IOC_OPAL_GET_STATUS, IOC_OPAL_LOCK_UNLOCK } from '../../src/opal/abi';
import { libc, O_RDONLY_CLOEXEC } from '../../src/opal/libc';
import { LibcTransport } from '../../src/opal/libc-transport';

const SYNC_CALLS = 100_000;
const ASYNC_CALLS = 4_000;
const RUNS = 5;
const GOAL_NS = 1000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Wall and CPU (user + system) time per call; on a shared machine CPU time is the fair one. */
function nsPerCall(calls: number, fn: () => void): { wall: number; cpu: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    wall.push(Number(process.hrtime.bigint() - t0) / calls);
    const c = process.cpuUsage(c0);
    cpu.push(((c.user + c.system) * 1000) / calls);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

async function asyncNsPerCall(calls: number, fn: () => Promise<unknown>, width: number) {
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let left = calls;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: width }, async () => {
        while (left-- > 0) await fn();
      }),
    );
    runs.push(Number(process.hrtime.bigint() - t0) / calls);
  }
  return median(runs);
}

function startupMs(env: NodeJS.ProcessEnv): number {
  const bin = join(__dirname, '../../src/cli/main.js');
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, [bin, 'opal', 'status', '--device', '/dev/null'], { env });
    runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(runs);
}

async function main(): Promise<void> {
  const c = libc();
  const open = c.openSync('/dev/null', O_RDONLY_CLOEXEC);
  if (open.rc < 0) throw new Error(`open /dev/null: errno ${open.errno}`);
  const fd = open.rc;
  const status = Buffer.alloc(IOC_OPAL_GET_STATUS.size);
  const lockUnlock = Buffer.alloc(IOC_OPAL_LOCK_UNLOCK.size);
  const transport = new LibcTransport();

  // The floor of any koffi call on this machine right now, to read the others against.
  const getpid = koffi.load('libc.so.6').func('int getpid()') as () => number;
  const floor = nsPerCall(SYNC_CALLS, () => getpid());
  const raw = nsPerCall(SYNC_CALLS, () => c.ioctlSync(fd, IOC_OPAL_GET_STATUS.request, status));
  const raw280 = nsPerCall(SYNC_CALLS, () =>
    c.ioctlSync(fd, IOC_OPAL_LOCK_UNLOCK.request, lockUnlock),
  );
  const checked = nsPerCall(SYNC_CALLS, () =>
    transport.ioctlSync(fd, IOC_OPAL_GET_STATUS.request, status),
  );
  const asyncRaw = await asyncNsPerCall(
    ASYNC_CALLS,
    () => c.ioctl(fd, IOC_OPAL_GET_STATUS.request, status),
    2,
  );
  const asyncCapped = await asyncNsPerCall(
    ASYNC_CALLS,
    () => transport.ioctl(fd, IOC_OPAL_GET_STATUS.request, status),
    16,
  );
  c.closeSync(fd);

  const withCa = startupMs(process.env);
  const withoutCa = startupMs({ ...process.env, NODE_EXTRA_CA_CERTS: '' });

  const us = (ns: number) => `${(ns / 1000).toFixed(3)} µs`;
  const both = (m: { wall: number; cpu: number }) =>
    `${us(m.wall)} wall, ${us(m.cpu)} CPU per call`;
  console.log(`load average ${loadavg()[0].toFixed(1)}; koffi getpid() floor:   ${both(floor)}`);
  console.log(`sync ioctl GET_STATUS (8 B), raw koffi:        ${both(raw)}`);
  console.log(`sync ioctl LOCK_UNLOCK (280 B), raw koffi:     ${both(raw280)}`);
  console.log(`sync ioctl via LibcTransport (size checks):    ${both(checked)}`);
  console.log(`async ioctl, raw koffi, 2 in flight:           ${us(asyncRaw)} per call`);
  console.log(`async ioctl via LibcTransport (cap 2, 16 q'd): ${us(asyncCapped)} per call`);
  console.log(`ekmctl opal status --device /dev/null start:   ${withCa.toFixed(0)} ms`);
  console.log(`  same with NODE_EXTRA_CA_CERTS unset:         ${withoutCa.toFixed(0)} ms`);
  const verdict = (ns: number) => (ns < GOAL_NS ? 'met' : 'NOT met');
  console.log(
    `goal: < 1 µs per sync call (LibcTransport) — CPU time: ${verdict(checked.cpu)}, ` +
      `wall time: ${verdict(checked.wall)}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
