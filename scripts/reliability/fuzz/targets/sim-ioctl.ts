// The simulator's ioctl entry under hostile arguments: every Opal request number, others
// near them and random ones; right and wrong sizes; garbage, zeroed and sparse structs.
// A kernel answers with rc >= 0 or -errno; any exception or other shape is a crash.
import { OPAL_IOCTLS, ioc, type IocDirection } from '../../../../src/opal/abi';
import type { IoctlResult } from '../../../../src/opal/transport';
import type { Simulator } from '../../../../src/sim/simulator';
import { byteSet } from '../mutators';
import type { FuzzTarget } from '../runner';
import type { Rng } from '../rng';

export interface IoctlInput {
  drive: number;
  request: number;
  buf: Buffer;
  data: Buffer | undefined;
}

/** Thrown by the target when the simulator answers in a way no kernel would. */
export class NotKernelStyleError extends Error {
  override name = 'NotKernelStyleError';
}

const DIRECTIONS: readonly IocDirection[] = ['none', 'read', 'write', 'readwrite'];
const OPAL_TYPE = 0x70;

export function isKernelStyle(r: IoctlResult): boolean {
  if (!Number.isInteger(r.rc) || !Number.isInteger(r.errno)) return false;
  return (r.rc >= 0 && r.errno === 0) || (r.errno > 0 && r.errno < 4096 && r.rc === -r.errno);
}

function request(rng: Rng): { request: number; size: number } {
  const def = rng.pick(OPAL_IOCTLS);
  const roll = rng.int(100);
  if (roll < 60) return { request: def.request, size: def.size };
  if (roll < 75) {
    // A known number with the size or direction bits wrong.
    const size = rng.int(1024);
    return { request: ioc(rng.pick(DIRECTIONS), OPAL_TYPE, def.nr, size), size };
  }
  if (roll < 90) {
    const size = rng.int(1024);
    return { request: ioc(rng.pick(DIRECTIONS), OPAL_TYPE, rng.int(256), size), size };
  }
  return { request: rng.u32(), size: rng.int(1024) };
}

function argument(rng: Rng, size: number): Buffer {
  const roll = rng.int(100);
  // Wrong sizes: the kernel copies _IOC_SIZE bytes, whatever the caller meant.
  const n = roll < 15 ? rng.int(2 * size + 16) : size;
  const base = rng.chance(0.5) ? rng.bytes(n) : Buffer.alloc(n);
  // Sparse structs: mostly zero (inline key type, short keys) with a few set bytes.
  return roll % 2 === 0 ? byteSet(base, rng) : base;
}

export function simIoctlTarget(sim: Simulator): FuzzTarget<IoctlInput> {
  return {
    generate(rng) {
      const r = request(rng);
      const data = rng.chance(0.2) ? rng.bytes(rng.int(4096)) : undefined;
      return {
        drive: rng.int(sim.drives.length),
        request: r.request,
        buf: argument(rng, r.size),
        data,
      };
    },
    run({ drive, request, buf, data }) {
      const r = sim.ioctl(drive, request, buf, data);
      if (!isKernelStyle(r)) throw new NotKernelStyleError(`answered ${JSON.stringify(r)}`);
      return r.rc < 0 ? 'rejected' : 'accepted';
    },
    // A kernel never throws at its caller.
    isOwnError: () => false,
    describe: ({ drive, request, buf, data }) =>
      `drive ${drive} request 0x${request.toString(16)} buf ${buf.length} bytes ` +
      `${buf.subarray(0, 32).toString('hex')}… data ${data?.length ?? 'none'}`,
  };
}
