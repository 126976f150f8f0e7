// Requests encoded with the real side's ABI encoders, for driving a simulated drive the
// way the daemon's Opal layer does.
import {
  IOC_OPAL_ACTIVATE_LSP,
  IOC_OPAL_GET_STATUS,
  IOC_OPAL_LOCK_UNLOCK,
  IOC_OPAL_LR_SETUP,
  IOC_OPAL_PSID_REVERT_TPR,
  IOC_OPAL_SAVE,
  IOC_OPAL_TAKE_OWNERSHIP,
  OpalLockState,
  OpalUser,
  encodeOpalKey,
  encodeOpalLockUnlock,
  encodeOpalLrAct,
  encodeOpalUserLrSetup,
  decodeOpalStatus,
  type OpalSessionInfo,
} from '../../src/opal/abi';
import type { IoctlResult } from '../../src/opal/transport';

export type Ioctl = (request: number, buf: Buffer) => IoctlResult | Promise<IoctlResult>;

export const admin1 = (pin: Buffer, lr = 0): OpalSessionInfo => ({
  sum: false,
  who: OpalUser.ADMIN1,
  opalKey: { lr, key: pin },
});

export const takeOwnership = (io: Ioctl, pin: Buffer) =>
  io(IOC_OPAL_TAKE_OWNERSHIP.request, encodeOpalKey({ lr: 0, key: pin }));

export const activate = (io: Ioctl, pin: Buffer) =>
  io(
    IOC_OPAL_ACTIVATE_LSP.request,
    encodeOpalLrAct({ key: { lr: 0, key: pin }, sum: false, lr: [0] }),
  );

export const setupGlobalRange = (io: Ioctl, pin: Buffer) =>
  io(
    IOC_OPAL_LR_SETUP.request,
    encodeOpalUserLrSetup({
      rangeStart: 0n,
      rangeLength: 0n,
      rle: true,
      wle: true,
      session: admin1(pin),
    }),
  );

export const lockUnlock = (io: Ioctl, pin: Buffer, lState: number = OpalLockState.RW) =>
  io(IOC_OPAL_LOCK_UNLOCK.request, encodeOpalLockUnlock({ session: admin1(pin), lState }));

export const save = (io: Ioctl, pin: Buffer) =>
  io(
    IOC_OPAL_SAVE.request,
    encodeOpalLockUnlock({ session: admin1(pin), lState: OpalLockState.RW }),
  );

export const psidRevert = (io: Ioctl, psid: Buffer) =>
  io(IOC_OPAL_PSID_REVERT_TPR.request, encodeOpalKey({ lr: 0, key: psid }));

export async function statusFlags(io: Ioctl): Promise<number> {
  const buf = Buffer.alloc(IOC_OPAL_GET_STATUS.size);
  const r = await io(IOC_OPAL_GET_STATUS.request, buf);
  if (r.rc !== 0) throw new Error(`GET_STATUS rc ${r.rc}`);
  return decodeOpalStatus(buf).flags;
}

/** Take ownership, activate the Locking SP, lock-enable the global range: a provisioned SED. */
export async function provision(io: Ioctl, pin: Buffer): Promise<number[]> {
  return [
    (await takeOwnership(io, pin)).rc,
    (await activate(io, pin)).rc,
    (await setupGlobalRange(io, pin)).rc,
  ];
}
