// ekmd as the unit runs it: its own user (nobody stands in for ekmd here), the disk group,
// CAP_SYS_ADMIN as its one capability (ambient), no new privileges. State a root-run ekmd
// made is handed over as install.sh and StateDirectory= do (chown), and the unprivileged
// ekmd starts, binds, unseals that state and unlocks the simulator's drives at boot. It
// is not dumpable and its core limit is 0. (The sed-opal ioctls' CAP_SYS_ADMIN check
// needs real Opal drives: the simulator is reached over a socket.)
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bin } from '../helpers/paths';
import { BOOTSTRAP, ready, rpc, runEkmd, workdir } from '../daemon/ekmd-process';
import { asUnit, unitUser as user, whyNotAsUnit } from './unit-user';

const CAP_SYS_ADMIN = 1n << 21n;
const ADMIN = { username: 'admin', password: 'cluster-admin-pw-UNPRIV' };

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
  }
}

function proc(pid: number, file: string): string {
  return readFileSync(`/proc/${pid}/${file}`, 'utf8');
}

const capHex = (status: string, name: string) =>
  BigInt('0x' + (new RegExp(`^${name}:\\s+([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '0'));

t.test(
  'ekmd runs as the unit runs it: unprivileged, CAP_SYS_ADMIN only',
  { skip: whyNotAsUnit() },
  async (t) => {
    const w = workdir(t, { unlock: { retry: { maxDelayMs: 500 } } });
    const uid = user.uid!;
    const gid = user.gid!;
    chownSync(w.dir, uid, gid); // the simulator, run as the user, makes its socket here
    const socket = join(w.dir, 'sim.sock');
    const sim = spawn(asUnit()[0], [
      ...asUnit().slice(1),
      process.execPath,
      bin.ekmdSim,
      'serve',
      ...['--state', join(w.dir, 'sim'), '--socket', socket, '--drives', '2', '--size', '1'],
    ]);
    t.teardown(() => sim.kill('SIGTERM'));
    for (let i = 0; i < 200 && !existsSync(socket); i++)
      await new Promise((r) => setTimeout(r, 50));
    const simctl = (...args: string[]) =>
      spawnSync(process.execPath, [bin.ekmdSim, ...args, '--socket', socket], { encoding: 'utf8' });

    // A root-run ekmd makes the state: the cluster, its drives, internal keys on them.
    const root = runEkmd(t, w.config);
    let port = await ready(root);
    let auth = BOOTSTRAP;
    const call = async (method: string, params: object = {}) => {
      const body = JSON.parse((await rpc(port, w.ca, auth, method, params)).body);
      if (!body.result) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
      return body.result as Record<string, any>;
    };
    const settled = async (asyncHandle: number) => {
      for (let i = 0; i < 600; i++) {
        const r = await call('GetAsyncResult', { asyncHandle, keepResult: true });
        if (r.status === 'complete') return r;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`async handle ${asyncHandle} never completed`);
    };
    await call('CreateCluster', {
      acceptEula: true,
      mvip: '127.0.0.1',
      svip: '127.0.0.1',
      nodes: ['127.0.0.1'],
      ...ADMIN,
    });
    auth = ADMIN;
    const { drives } = await call('ListDrives');
    t.equal(drives.length, 2, "the simulator's drives");
    await settled(
      (await call('AddDrives', { drives: drives.map((d: any) => ({ driveID: d.driveID })) }))
        .asyncHandle,
    );
    await call('EnableEncryptionAtRest'); // no handle: GetClusterInfo tells when it is done
    for (let i = 0; i < 600; i++) {
      const { clusterInfo } = await call('GetClusterInfo');
      if (clusterInfo.encryptionAtRestState === 'enabled') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    t.ok(
      (await call('ListDrives')).drives.every((d: { keyID?: string }) => d.keyID),
      'every drive has an internal key',
    );
    root.child.kill('SIGTERM');
    t.equal(await root.exited, 0);
    t.equal(simctl('power-cycle').status, 0);
    t.same(
      JSON.parse(simctl('status', '--json').stdout).drives.map((d: any) => d.locked),
      [true, true],
      'the drives are locked, as after a power cut',
    );

    // Handed over, as install.sh and StateDirectory= do; the config and key by group.
    chownTree(w.stateDir, uid, gid);
    for (const file of [w.config, join(w.dir, 'api.key')]) {
      chownSync(file, 0, gid);
      chmodSync(file, 0o640);
    }
    const ekmd = runEkmd(t, w.config, asUnit());
    port = await ready(ekmd);
    const pid = ekmd.child.pid!;
    const status = proc(pid, 'status');
    t.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), 'not root');
    t.match(status, new RegExp(`^Groups:\\s+${user.disk}\\s*$`, 'm'), 'the disk group');
    t.equal(capHex(status, 'CapEff'), CAP_SYS_ADMIN, 'CAP_SYS_ADMIN alone');
    t.equal(capHex(status, 'CapAmb'), CAP_SYS_ADMIN, 'ambient, as AmbientCapabilities= gives it');
    t.match(proc(pid, 'limits'), /^Max core file size\s+0\s+0\s+bytes\s*$/m, 'no core file');
    t.equal(statSync(`/proc/${pid}/environ`).uid, 0, "not dumpable: its /proc files are root's");

    t.same(
      JSON.parse(simctl('status', '--json').stdout).drives.map((d: any) => d.locked),
      [false, false],
      'the unprivileged ekmd unlocked the drives with the keys it unsealed',
    );
    const info = await call('GetClusterInfo');
    t.equal(info.clusterInfo.encryptionAtRestState, 'enabled', 'it reads the root-made store');
    const after = await call('ListDrives');
    t.same(
      after.drives.map((d: any) => d.status),
      ['active', 'active'],
    );
    ekmd.child.kill('SIGTERM');
    t.equal(await ekmd.exited, 0, 'a clean stop');
    t.notMatch(ekmd.output(), /"level":(40|50|60)/, 'no warning or error logged');
  },
);
