// AF_UNIX datagrams through libc with koffi: node's dgram cannot send to Unix sockets.
// Used for systemd's notify socket and for syslog's local socket. koffi is loaded at the
// first send, so a process that never sends never pays for it.
import { constants, endianness } from 'node:os';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): sa_family_t (2 bytes) + sun_path[108]. */
const SOCKADDR_UN_SIZE = 110;
const SUN_PATH_OFFSET = 2;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, alen: number): number;
  close(fd: number): number;
  errno(): number;
}

let loaded: Libc | undefined;

function libc(): Libc {
  if (loaded) return loaded;
  const koffi = require('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  loaded = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func(
      'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)',
    ),
    close: lib.func('int close(int fd)'),
    errno: () => koffi.errno(),
  };
  return loaded;
}

export interface UnixAddress {
  addr: Buffer;
  length: number;
}

/**
 * The sockaddr_un of an absolute path or an '@abstract' name; `what` names the setting in
 * the error (e.g. "NOTIFY_SOCKET").
 */
export function unixSocketAddress(value: string, what: string): UnixAddress {
  const abstract = value.startsWith('@');
  if (!abstract && !value.startsWith('/')) {
    throw new Error(`${what} must be an absolute path or start with '@': ${value}`);
  }
  const name = Buffer.from(abstract ? value.slice(1) : value, 'utf8');
  // A path needs room for its NUL; an abstract name starts with a NUL byte instead.
  if (name.length + 1 > SOCKADDR_UN_SIZE - SUN_PATH_OFFSET) {
    throw new Error(`${what} is longer than a Unix socket address allows: ${value}`);
  }
  const addr = Buffer.alloc(SOCKADDR_UN_SIZE);
  if (endianness() === 'LE') addr.writeUInt16LE(AF_UNIX, 0);
  else addr.writeUInt16BE(AF_UNIX, 0);
  name.copy(addr, SUN_PATH_OFFSET + (abstract ? 1 : 0));
  // Abstract names are exactly as long as given (no trailing NUL); paths include the NUL.
  return { addr, length: SUN_PATH_OFFSET + 1 + name.length };
}

/** "EAGAIN" for an errno number, as node's os.constants.errno names it. */
export function errnoName(errno: number): string {
  const entry = Object.entries(constants.errno).find(([, value]) => value === errno);
  return entry ? entry[0] : `errno ${errno}`;
}

/** What one send did: sent whole, or not sent and why (an errno name). */
export type SendResult = { sent: true } | { sent: false; error: string };

/**
 * One datagram on a socket of its own, closed after the send (systemd's notify protocol:
 * rare messages, and the manager may replace its socket). May block while the receiver's
 * queue is full.
 */
export function sendDatagramOnce(to: UnixAddress, message: Buffer): SendResult {
  const lib = libc();
  const fd = lib.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return { sent: false, error: errnoName(lib.errno()) };
  const sent = lib.sendto(fd, message, message.length, MSG_NOSIGNAL, to.addr, to.length);
  const errno = sent < 0 ? lib.errno() : 0;
  lib.close(fd);
  if (sent !== message.length) return { sent: false, error: errno ? errnoName(errno) : 'short' };
  return { sent: true };
}

/**
 * A non-blocking datagram sender to one address, its socket kept open between sends. A
 * full or slow receiver makes a send fail at once (EAGAIN) instead of waiting; the caller
 * decides what a failed send costs. Each send names the address, so a receiver that was
 * restarted (a new socket at the same path) is reached without reconnecting.
 */
export class UnixDatagramSender {
  private fd = -1;

  constructor(private readonly to: UnixAddress) {}

  send(message: Buffer): SendResult {
    const lib = libc();
    if (this.fd < 0) {
      const fd = lib.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return { sent: false, error: errnoName(lib.errno()) };
      this.fd = fd;
    }
    const flags = MSG_DONTWAIT | MSG_NOSIGNAL;
    const n = lib.sendto(this.fd, message, message.length, flags, this.to.addr, this.to.length);
    if (n === message.length) return { sent: true };
    return { sent: false, error: n < 0 ? errnoName(lib.errno()) : 'short' };
  }

  close(): void {
    if (this.fd >= 0) libc().close(this.fd);
    this.fd = -1;
  }
}
