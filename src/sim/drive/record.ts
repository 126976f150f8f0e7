// What a simulated drive keeps in non-volatile memory, as persisted in drive-N.json.
// Never a PIN and never a key in the clear: C_PIN rows hold an HKDF verifier and the
// Locking SP key wrapped under the PIN; media keys are wrapped under the Locking SP key,
// and, while a range cannot lock at all, under the simulator's runtime key.
import { randomBytes } from 'node:crypto';
import { OPAL_MAX_LRS } from '../../opal/abi';
import { derivePinSecrets, newPinSalt } from '../crypto/pin-kdf';

export type DriveMode = 'opal' | 'plain';
export type LspLifeCycle = 'manufactured-inactive' | 'manufactured';
/** Locking SP authorities by enum opal_user: 0 = Admin1, 1..9 = User1..9. */
export const LSP_AUTHORITIES = 10;
export const DEFAULT_TRY_LIMIT = 5;

export interface PinRow {
  salt: string;
  /** HKDF verifier of the PIN; null while the PIN is empty. */
  verifier: string | null;
  /** Locking SP key sealed under this PIN's KEK (Locking SP authorities only). */
  lspKey: string | null;
  tryLimit: number;
  /** Whether Tries survives a reset; false as on common drives. */
  persistence: boolean;
  enabled: boolean;
}

export interface RangeRow {
  /** In logical blocks; range 0 (global) covers whatever ranges 1..8 do not. */
  start: number;
  length: number;
  rle: boolean;
  wle: boolean;
  /** LockOnReset = {PowerCycle}: the kernel offers no way to change it. */
  lockOnReset: boolean;
  /** Authorities allowed to set ReadLocked / WriteLocked (ACE_Locking_Range_Set_*). */
  readAce: number[];
  writeAce: number[];
  /** Media key sealed under the Locking SP key, once the Locking SP is active. */
  sealedKey: string | null;
  /** Media key sealed under the runtime key while the range cannot fully lock (RLE or WLE off). */
  openKey: string | null;
}

export interface Faults {
  ioError: boolean;
  /** Delay before each ioctl answer, in milliseconds (0 = none). */
  slowMs: number;
  /** Answer as a drive without Opal support (EOPNOTSUPP), whatever the mode. */
  nonOpal: boolean;
}

export interface DriveRecord {
  version: 1;
  index: number;
  serial: string;
  model: string;
  blocks: number;
  mode: DriveMode;
  /** Manufacturer's SID: readable by Anybody on a real drive, so not a secret. */
  msid: string;
  /** Printed on the drive's label (`ekmd-sim label`). */
  psid: string;
  sid: PinRow;
  psidPin: PinRow;
  lsp: LspLifeCycle;
  lspPins: PinRow[];
  ranges: RangeRow[];
  mbrEnable: boolean;
  /** Software encryption at rest: key check value of the DEK the data is formatted with. */
  dekCheck: string | null;
  plugged: boolean;
  faults: Faults;
}

export function pinRow(pin: Buffer | null, enabled: boolean): PinRow {
  const salt = newPinSalt();
  let verifier: string | null = null;
  if (pin && pin.length > 0) {
    const s = derivePinSecrets(pin, salt);
    verifier = s.verifier.toString('base64');
    s.verifier.fill(0);
    s.kek.fill(0);
  }
  return {
    salt: salt.toString('base64'),
    verifier,
    lspKey: null,
    tryLimit: DEFAULT_TRY_LIMIT,
    persistence: false,
    enabled,
  };
}

export function factoryRange(): RangeRow {
  return {
    start: 0,
    length: 0,
    rle: false,
    wle: false,
    lockOnReset: true,
    readAce: [0],
    writeAce: [0],
    sealedKey: null,
    openKey: null,
  };
}

/** Factory Locking SP: inactive, Admin1 and users disabled with empty PINs. */
export function factoryLsp(): { lspPins: PinRow[]; ranges: RangeRow[] } {
  return {
    lspPins: Array.from({ length: LSP_AUTHORITIES }, () => pinRow(null, false)),
    ranges: Array.from({ length: OPAL_MAX_LRS }, factoryRange),
  };
}

export function newDriveRecord(index: number, blocks: number, mode: DriveMode): DriveRecord {
  const serial = `SIM${randomBytes(4).toString('hex').toUpperCase()}${String(index).padStart(3, '0')}`;
  const msid = randomBytes(16).toString('hex').toUpperCase();
  const psid = randomBytes(16).toString('hex').toUpperCase();
  return {
    version: 1,
    index,
    serial,
    model: mode === 'opal' ? 'EKMD-SIM OPAL SED' : 'EKMD-SIM PLAIN',
    blocks,
    mode,
    msid,
    psid,
    sid: pinRow(Buffer.from(msid), true),
    psidPin: pinRow(Buffer.from(psid), true),
    lsp: 'manufactured-inactive',
    ...factoryLsp(),
    mbrEnable: false,
    dekCheck: null,
    plugged: true,
    faults: { ioError: false, slowMs: 0, nonOpal: false },
  };
}
