// The last line of defence for processes that tests, benchmarks and the dev cluster start:
// a small process told on its stdin which pids to kill and which directories to remove
// ("+pid 123", "-pid 123", "+dir /tmp/x", "-dir /tmp/x"). When its stdin closes (the process
// that started them is gone, however it died, kill -9 included), it does so for those still
// listed. A clean stop takes them off the list first.
import { spawn, type ChildProcess } from 'node:child_process';

const WATCHDOG = `
const { rmSync } = require('node:fs');
const listed = { pid: new Set(), dir: new Set() };
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const [op, kind, ...rest] = [line[0], ...line.slice(1).split(' ')];
    if (listed[kind]) listed[kind][op === '+' ? 'add' : 'delete'](rest.join(' '));
  }
});
process.stdin.on('end', () => {
  for (const pid of listed.pid) { try { process.kill(Number(pid), 'SIGKILL'); } catch {} }
  setTimeout(() => {
    for (const dir of listed.dir) rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 300);
});
`;

let watchdog: ChildProcess | undefined;

function tell(line: string): void {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  }
  if (watchdog.stdin?.writable) watchdog.stdin.write(`${line}\n`);
}

/** Kill this pid should this process die before calling releasePid. */
export const guardPid = (pid: number | undefined): void => {
  if (pid !== undefined) tell(`+pid ${pid}`);
};
export const releasePid = (pid: number | undefined): void => {
  if (pid !== undefined) tell(`-pid ${pid}`);
};
/** Remove this directory should this process die before calling releaseDir. */
export const guardDir = (dir: string): void => tell(`+dir ${dir}`);
export const releaseDir = (dir: string): void => tell(`-dir ${dir}`);
