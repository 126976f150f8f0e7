// sd_notify(3) without libsystemd or a shell: one AF_UNIX datagram per message to
// $NOTIFY_SOCKET, sent through libc with koffi because node's dgram cannot send to Unix
// sockets. A no-op when systemd did not start us (NOTIFY_SOCKET unset), and then koffi is
// never loaded, so `ekmd --help` and tests stay light.
import type { Logger } from 'pino';
import { constants, endianness } from 'node:os';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
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

export interface NotifierOptions {
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read; process.env by default. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

/** The systemd service-manager notifications ekmd sends. Each returns whether it was sent. */
export interface Notifier {
  /** True when NOTIFY_SOCKET names a usable socket. */
  readonly enabled: boolean;
  /** READY=1: start-up is done (after the first unlock pass). */
  ready(): boolean;
  /** STATUS=text: one line shown by `systemctl status`. */
  status(text: string): boolean;
  /** WATCHDOG=1: the event loop is alive. */
  watchdog(): boolean;
  /** STOPPING=1: shutdown has begun. */
  stopping(): boolean;
  /**
   * Send WATCHDOG=1 every WATCHDOG_USEC/2 when systemd asked for a watchdog for this
   * process. The timer is unref'd: it never keeps the daemon alive. Returns the period in
   * ms, or undefined when no watchdog is wanted.
   */
  startWatchdog(): number | undefined;
  stopWatchdog(): void;
}

/** Build the sockaddr_un for a NOTIFY_SOCKET value: an absolute path or '@abstract'. */
export function notifySocketAddress(value: string): { addr: Buffer; length: number } {
  const abstract = value.startsWith('@');
  if (!abstract && !value.startsWith('/')) {
    throw new Error(`NOTIFY_SOCKET must be an absolute path or start with '@': ${value}`);
  }
  const name = Buffer.from(abstract ? value.slice(1) : value, 'utf8');
  // A path needs room for its NUL; an abstract name starts with a NUL byte instead.
  if (name.length + 1 > SOCKADDR_UN_SIZE - SUN_PATH_OFFSET) {
    throw new Error(`NOTIFY_SOCKET is longer than a Unix socket address allows: ${value}`);
  }
  const addr = Buffer.alloc(SOCKADDR_UN_SIZE);
  if (endianness() === 'LE') addr.writeUInt16LE(AF_UNIX, 0);
  else addr.writeUInt16BE(AF_UNIX, 0);
  name.copy(addr, SUN_PATH_OFFSET + (abstract ? 1 : 0));
  // Abstract names are exactly as long as given (no trailing NUL); paths include the NUL.
  return { addr, length: SUN_PATH_OFFSET + 1 + name.length };
}

function errnoName(errno: number): string {
  const entry = Object.entries(constants.errno).find(([, value]) => value === errno);
  return entry ? entry[0] : `errno ${errno}`;
}

function loadLibc(): Libc {
  // Required here, not at the top: only a daemon started by systemd pays for koffi.
  const koffi = require('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  return {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func(
      'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)',
    ),
    close: lib.func('int close(int fd)'),
    errno: () => koffi.errno(),
  };
}

class SystemdNotifier implements Notifier {
  private address?: { addr: Buffer; length: number };
  private libc?: Libc;
  private timer?: NodeJS.Timeout;
  private failures = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logger?: Logger,
  ) {
    const value = env.NOTIFY_SOCKET;
    if (value) {
      try {
        this.address = notifySocketAddress(value);
      } catch (err) {
        this.logger?.warn({ err }, 'systemd notifications disabled');
      }
    }
  }

  get enabled(): boolean {
    return this.address !== undefined;
  }

  ready(): boolean {
    return this.send('READY=1');
  }

  status(text: string): boolean {
    // One line: a newline would let the text smuggle in another assignment (READY=1 …).
    return this.send(`STATUS=${text.replace(/[\r\n]+/g, ' ')}`);
  }

  watchdog(): boolean {
    return this.send('WATCHDOG=1');
  }

  stopping(): boolean {
    // systemd stops watching once the service says it is stopping; a ping after
    // STOPPING=1 would only race the shutdown.
    this.stopWatchdog();
    return this.send('STOPPING=1');
  }

  startWatchdog(): number | undefined {
    if (!this.enabled || this.timer) return undefined;
    const usec = this.env.WATCHDOG_USEC;
    if (!usec) return undefined;
    // systemd sets WATCHDOG_PID to the process it watches; a child that inherited the
    // environment must not ping on its parent's behalf.
    const pid = this.env.WATCHDOG_PID;
    if (pid && pid !== String(process.pid)) return undefined;
    if (!/^[1-9][0-9]*$/.test(usec)) {
      this.logger?.warn({ WATCHDOG_USEC: usec }, 'ignoring malformed WATCHDOG_USEC');
      return undefined;
    }
    const periodMs = Math.max(1, Math.floor(Number(usec) / 2000));
    this.timer = setInterval(() => this.watchdog(), periodMs).unref();
    this.logger?.debug({ periodMs }, 'systemd watchdog started');
    return periodMs;
  }

  stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private send(state: string): boolean {
    if (!this.address) return false;
    try {
      this.libc ??= loadLibc();
    } catch (err) {
      this.logger?.warn({ err }, 'systemd notifications unavailable: cannot load libc');
      this.address = undefined;
      return false;
    }
    const libc = this.libc;
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return this.failed(state, libc.errno());
    const msg = Buffer.from(state, 'utf8');
    const { addr, length } = this.address;
    const sent = libc.sendto(fd, msg, msg.length, MSG_NOSIGNAL, addr, length);
    const errno = sent < 0 ? libc.errno() : 0;
    libc.close(fd);
    if (sent !== msg.length) return this.failed(state, errno);
    this.failures = 0;
    return true;
  }

  private failed(state: string, errno: number): false {
    // The manager may be gone (shutdown): say so once, not every watchdog period.
    const level = this.failures++ === 0 ? 'warn' : 'debug';
    const message = state.slice(0, state.indexOf('='));
    this.logger?.[level]({ message, error: errnoName(errno) }, 'systemd notification not sent');
    return false;
  }
}

/** A notifier for the environment systemd gave us (Type=notify, WatchdogSec=). */
export function createNotifier(options: NotifierOptions = {}): Notifier {
  return new SystemdNotifier(options.env ?? process.env, options.logger);
}
