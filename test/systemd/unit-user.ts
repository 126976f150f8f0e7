// Running a command as ekmd.service runs ekmd, with setpriv (PID 1 may not be systemd
// here): User= (nobody stands in for ekmd, which a test machine lacks),
// SupplementaryGroups=disk, AmbientCapabilities= and CapabilityBoundingSet=CAP_SYS_ADMIN,
// NoNewPrivileges=yes.
import { spawnSync } from 'node:child_process';

function ids(db: 'passwd' | 'group', name: string): number | undefined {
  const r = spawnSync('getent', [db, name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(':')[2]) : undefined;
}

export const unitUser = {
  uid: ids('passwd', 'nobody'),
  gid: ids('group', 'nogroup') ?? ids('group', 'nobody'),
  disk: ids('group', 'disk'),
};

/** The setpriv command line that `exec`s what follows it as the unit's user. */
export function asUnit(): string[] {
  return [
    'setpriv',
    `--reuid=${unitUser.uid}`,
    `--regid=${unitUser.gid}`,
    `--groups=${unitUser.disk}`,
    '--inh-caps=-all,+sys_admin',
    '--ambient-caps=+sys_admin',
    '--bounding-set=-all,+sys_admin',
    '--no-new-privs',
    '--',
  ];
}

/** Why commands cannot be run as the unit's user here; false when they can. */
export function whyNotAsUnit(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to switch users';
  if (unitUser.uid === undefined || unitUser.gid === undefined || unitUser.disk === undefined)
    return 'no nobody user, or no disk group';
  const [command, ...args] = asUnit();
  const probe = spawnSync(command, [...args, 'true']);
  if (probe.error || probe.status !== 0) return 'setpriv cannot set ambient capabilities here';
  return false;
}
