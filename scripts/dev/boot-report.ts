// What the API and the simulator say once ekmd is up: one line per drive, then the boot's
// unlock (every drive holding an AK unlocked) and how long it took from ekmd's spawn.
import { setTimeout as sleep } from 'node:timers/promises';
import { SimConnection } from '../../src/opal/sim-socket/connection';
import type { DevApi } from './api';
import { say } from './common';

/** How long the report waits for boot unlock. */
const UNLOCK_WAIT_MS = 30_000;

/** Plugged drives' serials → locked. */
async function simLockStates(socket: string): Promise<Map<string, boolean>> {
  const conn = new SimConnection(socket);
  try {
    const r = await conn.request({ op: 'status' });
    const drives = r.header.drives as { serial: string; locked: boolean; plugged: boolean }[];
    return new Map(drives.filter((d) => d.plugged).map((d) => [d.serial, d.locked]));
  } finally {
    await conn.close();
  }
}

export async function reportBoot(
  api: DevApi,
  simSocket: string,
  kmipPort: number,
  booted: number,
): Promise<void> {
  const drives = (await api.ok('ListDrives')).drives as Record<string, any>[];
  const ear = (await api.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string;
  const keyed = drives.filter((d) => typeof d.keyID === 'string' && d.keyProviderID !== undefined);
  let locks = await simLockStates(simSocket);
  const stillLocked = () => keyed.filter((d) => locks.get(d.serial) !== false).length;
  const deadline = Date.now() + UNLOCK_WAIT_MS;
  while (stillLocked() > 0 && Date.now() < deadline) {
    await sleep(100);
    locks = await simLockStates(simSocket);
  }
  const unlockedAt = Date.now();
  for (const d of drives) {
    const lock = locks.get(d.serial);
    const fault =
      d.driveSecurityFaultReason !== 'none' ? `  fault: ${d.driveSecurityFaultReason}` : '';
    say(
      `drive ${d.driveID}  slot ${d.slot}  serial ${d.serial}  ${d.status}  ` +
        `${keyed.includes(d) ? `AK at key provider ${d.keyProviderID}` : 'no AK'}  ` +
        `${lock === undefined ? 'lock state unknown' : lock ? 'locked' : 'unlocked'}${fault}`,
    );
  }
  const n = drives.length;
  const kmip = `kmip://127.0.0.1:${kmipPort}`;
  say(`encryption at rest ${ear} on ${keyed.length}/${n} drives; keys at ${kmip}`);
  const locked = stillLocked();
  say(
    locked === 0
      ? `unlocked ${n - locked}/${n} drives in ${unlockedAt - booted} ms, keys from ${kmip}`
      : `${locked}/${n} drives still locked after ${UNLOCK_WAIT_MS / 1000} s: see ListClusterFaults`,
  );
}
