// Stands in for systemd's notification socket in tests: a real AF_UNIX datagram socket
// (node's dgram cannot bind one), bound through libc with koffi.
import koffi from 'koffi';
import { rmSync } from 'node:fs';
import { notifySocketAddress } from '../../src/daemon/notify';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const EAGAIN = koffi.os.errno.EAGAIN;

const lib = koffi.load('libc.so.6');
const socket = lib.func('int socket(int domain, int type, int protocol)');
const bind = lib.func('int bind(int fd, const void *addr, uint32_t alen)');
const recv = lib.func('intptr_t recv(int fd, _Out_ void *buf, size_t len, int flags)');
const close = lib.func('int close(int fd)');

export class NotifyListener {
  private fd: number;

  /** Bind `address`: a filesystem path, or '@name' for the abstract namespace. */
  constructor(readonly address: string) {
    const { addr, length } = notifySocketAddress(address);
    const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
    if (fd < 0) throw new Error(`socket: errno ${koffi.errno()}`);
    if ((bind(fd, addr, length) as number) < 0) {
      const errno = koffi.errno();
      close(fd);
      throw new Error(`bind ${address}: errno ${errno}`);
    }
    this.fd = fd;
  }

  /**
   * Wait until a datagram equal to `message` has arrived, polling every 20 ms; resolves
   * with every datagram drained meanwhile, oldest first.
   */
  async waitFor(message: string, timeoutMs: number): Promise<string[]> {
    const got: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      got.push(...this.drain());
      if (got.includes(message)) return got;
      if (Date.now() > deadline) {
        throw new Error(`no ${message} within ${timeoutMs} ms; got ${JSON.stringify(got)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Every datagram queued so far, oldest first, without waiting. */
  drain(): string[] {
    const out: string[] = [];
    const buf = Buffer.alloc(4096);
    for (;;) {
      const n = recv(this.fd, buf, buf.length, MSG_DONTWAIT) as number;
      if (n < 0) {
        const errno = koffi.errno();
        if (errno === EAGAIN) return out;
        throw new Error(`recv: errno ${errno}`);
      }
      out.push(buf.subarray(0, n).toString('utf8'));
    }
  }

  close(): void {
    if (this.fd < 0) return;
    close(this.fd);
    this.fd = -1;
    if (!this.address.startsWith('@')) rmSync(this.address, { force: true });
  }
}
