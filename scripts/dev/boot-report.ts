// What the API and the simulator say once ekmd is up: one line per drive, then the boot's
// unlock (every drive holding an AK unlocked) and how long it took from ekmd's spawn, timed
// as the boot benchmark times it (scripts/bench/fixtures/boot-node.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { SimConnection } from '../../src/opal/sim-socket/connection';
import type { DevApi } from './api';
import { say } from './common';

/** How long after ekmd's spawn the report waits for boot unlock. */
const UNLOCK_WAIT_MS = 30_000;
/** Between looks at the simulator while the boot is watched. */
const WATCH_POLL_MS = 5;

/**
 * Watches the node boot from ekmd's spawn at `spawnedAt`: polls the simulator until no
 * drive is locked. Resolves with the milliseconds from the spawn to then; undefined when
 * no drive was locked at the first look (a first start: nothing keyed yet), when
 * UNLOCK_WAIT_MS passed, or when the simulator could not be asked.
 */
export async function watchBootUnlock(
  simSocket: string,
  spawnedAt: number,
): Promise<number | undefined> {
  const conn = new SimConnection(simSocket);
  try {
    let sawLocked = false;
    while (Date.now() - spawnedAt < UNLOCK_WAIT_MS) {
      const locked = (await conn.request({ op: 'locked' })).header.locked as number[];
      if (locked.length === 0) return sawLocked ? Date.now() - spawnedAt : undefined;
      sawLocked = true;
      await sleep(WATCH_POLL_MS);
    }
  } catch {
    // the simulator went away: the report says what it can
  } finally {
    await conn.close();
  }
  return undefined;
}

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

/**
 * `booted`: ekmd's spawn; `bootUnlock`: watchBootUnlock's answer, the time printed when it
 * has one. Without (nothing was locked at boot), the time is until the drives holding an
 * AK were seen unlocked here.
 */
export async function reportBoot(
  api: DevApi,
  simSocket: string,
  kmipPort: number,
  booted: number,
  bootUnlock: Promise<number | undefined>,
): Promise<void> {
  const drives = (await api.ok('ListDrives')).drives as Record<string, any>[];
  const ear = (await api.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string;
  const keyed = drives.filter((d) => typeof d.keyID === 'string' && d.keyProviderID !== undefined);
  const watchedMs = await bootUnlock;
  let locks = await simLockStates(simSocket);
  const stillLocked = () => keyed.filter((d) => locks.get(d.serial) !== false).length;
  while (stillLocked() > 0 && Date.now() - booted < UNLOCK_WAIT_MS) {
    await sleep(100);
    locks = await simLockStates(simSocket);
  }
  const unlockedMs = watchedMs ?? Date.now() - booted;
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
      ? `unlocked ${n - locked}/${n} drives in ${unlockedMs} ms, keys from ${kmip}`
      : `${locked}/${n} drives still locked after ${UNLOCK_WAIT_MS / 1000} s: see ListClusterFaults`,
  );
}
