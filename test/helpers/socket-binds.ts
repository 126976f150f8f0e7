// Watches every Unix socket a server binds in this process, at the instant of the bind
// (net.Server.listen binds synchronously): where it was bound, its mode, its directory's
// mode, and whether the path it was meant for already existed. A socket is private from
// its first instant when it was bound with no group/other bits, or inside a 0700
// directory other than the one it is served from.
import { existsSync, statSync } from 'node:fs';
import { Server } from 'node:net';
import { dirname } from 'node:path';

export interface Bind {
  path: string;
  mode: number;
  dirMode: number;
}

/** Records binds until the returned stop() is called; runs under umask 0 meanwhile. */
export function watchBinds(): { binds: Bind[]; stop(): void } {
  const binds: Bind[] = [];
  const listen = Server.prototype.listen;
  // Under umask 0 a socket bound in place would be 0777 until something changes it.
  const umask = process.umask(0);
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    const result = (listen as (...a: unknown[]) => Server).apply(this, args);
    const path = args[0];
    if (typeof path === 'string' && existsSync(path)) {
      binds.push({
        path,
        mode: statSync(path).mode & 0o777,
        dirMode: statSync(dirname(path)).mode & 0o777,
      });
    }
    return result;
  } as typeof listen;
  return {
    binds,
    stop() {
      Server.prototype.listen = listen;
      process.umask(umask);
    },
  };
}

/** True when the socket served at `servedPath` could not be reached by others when bound. */
export function privateFromTheStart(bind: Bind, servedPath: string): boolean {
  if ((bind.mode & 0o077) === 0) return true;
  return bind.dirMode === 0o700 && dirname(bind.path) !== dirname(servedPath);
}
