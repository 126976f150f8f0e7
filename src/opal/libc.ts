// libc open/ioctl/close through koffi: the only native binding of the Opal layer.
// ioctl is declared with three fixed parameters (int, unsigned long, void *): the x86_64
// and aarch64 calling conventions pass them like the variadic form, and only fixed
// prototypes get koffi's `.async`. errno is read right after each sync call; for `.async`
// koffi captures it on the worker and restores it while the callback runs.
import koffi from 'koffi';
import type { IoctlResult } from './transport';

/** O_RDONLY | O_CLOEXEC (asm-generic fcntl.h; the same on x86_64 and aarch64). */
export const O_RDONLY_CLOEXEC = 0o2000000;

type Callback = (err: unknown, rc: number) => void;
interface AsyncFn<A extends unknown[]> {
  (...args: A): number;
  async(...args: [...A, Callback]): void;
}

export interface Libc {
  openSync(path: string, flags: number): IoctlResult;
  ioctlSync(fd: number, request: number, arg: Buffer | null): IoctlResult;
  closeSync(fd: number): IoctlResult;
  open(path: string, flags: number): Promise<IoctlResult>;
  ioctl(fd: number, request: number, arg: Buffer | null): Promise<IoctlResult>;
  close(fd: number): Promise<IoctlResult>;
  /** Address of a Buffer's bytes, for structs that carry a user pointer. */
  address(buf: Buffer): bigint;
}

let loaded: Libc | undefined;

function promisify<A extends unknown[]>(fn: AsyncFn<A>, args: A): Promise<IoctlResult> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err, rc) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      // koffi restored the worker's errno for the duration of this callback.
      else resolve({ rc, errno: rc < 0 ? koffi.errno() : 0 });
    });
  });
}

function sync(rc: number): IoctlResult {
  return { rc, errno: rc < 0 ? koffi.errno() : 0 };
}

/** The process-wide binding, loaded on first use. */
export function libc(): Libc {
  if (loaded) return loaded;
  const lib = koffi.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags)') as AsyncFn<[string, number]>;
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, void *arg)') as AsyncFn<
    [number, number, Buffer | null]
  >;
  const close = lib.func('int close(int fd)') as AsyncFn<[number]>;
  loaded = {
    openSync: (path, flags) => sync(open(path, flags)),
    ioctlSync: (fd, request, arg) => sync(ioctl(fd, request, arg)),
    closeSync: (fd) => sync(close(fd)),
    open: (path, flags) => promisify(open, [path, flags]),
    ioctl: (fd, request, arg) => promisify(ioctl, [fd, request, arg]),
    close: (fd) => promisify(close, [fd]),
    address: (buf) => koffi.address(buf),
  };
  return loaded;
}
