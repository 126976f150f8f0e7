// The drive side of hardware EAR, one drive at a time. Enable: TAKE_OWNERSHIP (SID PIN =
// AK; one attempt, ever), ACTIVATE_LSP (Admin1 PIN = AK), global range with read and
// write locking enabled (LockOnReset = PowerCycle is the drive's default, and the kernel
// offers no way to change it), then a read-back. Enable of a drive owned since a Disable:
// SID's and Admin1's PINs from its owner key to the AK. Disable: unlock and locking off. The
// store side (what is recorded before and after each step) is provision.ts and disable.ts.
// OpalDrive zeroes every PIN it is given, so each call gets its own copy of the AK.
import { OpalUser } from '../../opal/abi';
import {
  OpalIoctlUnsupportedError,
  OpalNotAuthorizedError,
  OpalStatusError,
} from '../../opal/errors';
import type { OpalDrive } from '../../opal/drive';
import { crashPoint } from '../test-hooks';

/**
 * enabled: locked by the AK. refused: the drive proved it does not hold the AK (the key may
 * be destroyed). failed: the outcome is unknown, so the key must be kept.
 */
export type SecureOutcome =
  { kind: 'enabled' } | { kind: 'refused'; reason: string } | { kind: 'failed'; reason: string };

export const ALREADY_OWNED = 'already owned; PSID revert needed';
export const OWNERSHIP_UNCONFIRMED =
  'ownership not confirmed after an interrupted provisioning; not retried (PSID revert if owned elsewhere)';

const copy = (ak: Buffer): Buffer => Buffer.from(ak);

/** First provisioning of a drive that the caller has marked `owning` in the store. */
export async function takeOwnershipAndSecure(drive: OpalDrive, ak: Buffer): Promise<SecureOutcome> {
  try {
    await drive.takeOwnership(copy(ak));
  } catch (err) {
    if (err instanceof OpalNotAuthorizedError) return { kind: 'refused', reason: ALREADY_OWNED };
    return { kind: 'failed', reason: `take ownership: ${(err as Error).message}` };
  }
  crashPoint('ear.afterTakeOwnership');
  // From here the drive's SID holds the AK: no later refusal may let the key go.
  return secureOwnedDrive(drive, ak, null);
}

/**
 * TAKE_OWNERSHIP alone, no locking set up (an erase owns a fresh drive only to revert it);
 * undefined on success, else why not.
 */
export async function takeOwnershipOnly(
  drive: OpalDrive,
  pin: Buffer,
): Promise<string | undefined> {
  try {
    await drive.takeOwnership(copy(pin));
    return undefined;
  } catch (err) {
    if (err instanceof OpalNotAuthorizedError) return ALREADY_OWNED;
    throw err;
  }
}

/**
 * From an owned drive (or one that may be: after a restart) to a verified, locking drive.
 * `notOurs` is the reason given when the drive refuses the AK; null when the drive is
 * known to hold it, so a refusal is a failure and the key is kept.
 */
export async function secureOwnedDrive(
  drive: OpalDrive,
  ak: Buffer,
  notOurs: string | null,
): Promise<SecureOutcome> {
  let step = 'status';
  try {
    const before = await drive.status();
    if (!before.lockingEnabled) {
      step = 'activate locking';
      await drive.activate(copy(ak));
      crashPoint('ear.afterActivate');
    }
    step = 'global range setup';
    await drive.setupRanges(copy(ak), [
      { lr: 0, start: 0n, length: 0n, readLockEnabled: true, writeLockEnabled: true },
    ]);
    crashPoint('ear.afterRangeSetup');
    step = 'verify';
    return await verify(drive, ak);
  } catch (err) {
    if (err instanceof OpalNotAuthorizedError && notOurs !== null)
      return { kind: 'refused', reason: notOurs };
    return { kind: 'failed', reason: `${step}: ${(err as Error).message}` };
  }
}

async function verify(drive: OpalDrive, ak: Buffer): Promise<SecureOutcome> {
  const status = await drive.status();
  if (!status.lockingEnabled) return { kind: 'failed', reason: 'verify: locking is not enabled' };
  let range;
  try {
    range = await drive.rangeStatus({ who: OpalUser.ADMIN1, pin: copy(ak) }, 0);
  } catch (err) {
    // A drive refusing an optional read-back (not the PIN) proves nothing either way.
    if (err instanceof OpalNotAuthorizedError || !(err instanceof OpalStatusError)) throw err;
  }
  if (range && !(range.readLockEnabled && range.writeLockEnabled)) {
    return { kind: 'failed', reason: 'verify: the global range does not enable locking' };
  }
  return { kind: 'enabled' };
}

export const OWNER_KEY_REFUSED = 'the drive refused its recorded owner key';
export const SID_PIN_UNSUPPORTED =
  "the kernel cannot change SID's PIN (IOC_OPAL_SET_SID_PW, Linux 6.10+); the drive keeps its owner key";

/** A rekey's store side, and where a resumed one starts. */
export interface Rekey {
  /** Records (step `sidRekeyed`) that SID's PIN is the AK, before Admin1's changes. */
  sidRekeyed: () => Promise<void>;
  /** The step a previous process recorded: the PIN change after it may have reached the drive. */
  resumedAt?: 'owning' | 'sidRekeyed';
}

/**
 * A drive we own from an earlier Enable and Disable, both PINs the owner key: SID's PIN
 * goes to the AK, then (once recorded) Admin1's, then locking. SID first: until it moves,
 * a refusal proves the drive never saw the AK; once it has, the AK is kept whatever follows,
 * and an erase authenticates as SID with it.
 */
export async function rekeyAndSecure(
  drive: OpalDrive,
  ownerPin: Buffer,
  ak: Buffer,
  rekey: Rekey,
): Promise<SecureOutcome> {
  if (rekey.resumedAt !== 'sidRekeyed') {
    try {
      await moveSidPin(drive, ownerPin, ak, rekey.resumedAt === 'owning');
    } catch (err) {
      if (err instanceof OpalNotAuthorizedError)
        return { kind: 'refused', reason: OWNER_KEY_REFUSED };
      if (err instanceof OpalIoctlUnsupportedError)
        return { kind: 'refused', reason: SID_PIN_UNSUPPORTED };
      return { kind: 'failed', reason: `set SID PIN: ${(err as Error).message}` };
    }
    crashPoint('ear.afterSidRekey');
    await rekey.sidRekeyed();
  }
  try {
    await drive.setPin({ who: OpalUser.ADMIN1, pin: copy(ownerPin) }, OpalUser.ADMIN1, copy(ak));
  } catch (err) {
    // Resumed, Admin1 may hold the AK already: the locking setup with it below tells.
    if (!(rekey.resumedAt && err instanceof OpalNotAuthorizedError))
      return { kind: 'failed', reason: `set Admin1 PIN: ${(err as Error).message}` };
  }
  crashPoint('ear.afterTakeOwnership');
  return secureOwnedDrive(drive, ak, null);
}

/**
 * SID's PIN from `from` to `to`. `mayHaveMoved`: an earlier attempt may have reached the
 * drive, so a refusal of `from` is followed by one authentication with `to` (each refusal
 * costs one of SID's tries). Throws OpalNotAuthorizedError when SID holds neither.
 */
export async function moveSidPin(
  drive: OpalDrive,
  from: Buffer,
  to: Buffer,
  mayHaveMoved: boolean,
): Promise<void> {
  try {
    await drive.setSidPin(copy(from), copy(to));
  } catch (err) {
    if (!(mayHaveMoved && err instanceof OpalNotAuthorizedError)) throw err;
    await drive.setSidPin(copy(to), copy(to));
  }
}

/**
 * Disable: unlock, then turn read and write locking off on the global range, so that the
 * drive stays open across power cycles (its PINs stay: only an erase could reset them).
 */
export async function unlockAndDisableLocking(drive: OpalDrive, ak: Buffer): Promise<void> {
  await drive.unlock({ who: OpalUser.ADMIN1, pin: copy(ak) }, 0, 'rw');
  crashPoint('ear.afterUnlock');
  await drive.setupRanges(copy(ak), [
    { lr: 0, start: 0n, length: 0n, readLockEnabled: false, writeLockEnabled: false },
  ]);
  crashPoint('ear.afterDisableLocking');
}
