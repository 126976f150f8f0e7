// sd_notify(3) without libsystemd or a shell: one AF_UNIX datagram per message to
// $NOTIFY_SOCKET, sent through libc with koffi because node's dgram cannot send to Unix
// sockets. A no-op when systemd did not start us (NOTIFY_SOCKET unset), and then koffi is
// never loaded, so `ekmd --help` and tests stay light.
import type { Logger } from 'pino';
import { sendDatagramOnce, unixSocketAddress, type SendResult } from '../util/unix-datagram';

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
  return unixSocketAddress(value, 'NOTIFY_SOCKET');
}

class SystemdNotifier implements Notifier {
  private address?: { addr: Buffer; length: number };
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
    let result: SendResult;
    try {
      // koffi is loaded at the first send: only a daemon started by systemd pays for it.
      result = sendDatagramOnce(this.address, Buffer.from(state, 'utf8'));
    } catch (err) {
      this.logger?.warn({ err }, 'systemd notifications unavailable: cannot load libc');
      this.address = undefined;
      return false;
    }
    if (!result.sent) return this.failed(state, result.error);
    this.failures = 0;
    return true;
  }

  private failed(state: string, error: string): false {
    // The manager may be gone (shutdown): say so once, not every watchdog period.
    const level = this.failures++ === 0 ? 'warn' : 'debug';
    const message = state.slice(0, state.indexOf('='));
    this.logger?.[level]({ message, error }, 'systemd notification not sent');
    return false;
  }
}

/** A notifier for the environment systemd gave us (Type=notify, WatchdogSec=). */
export function createNotifier(options: NotifierOptions = {}): Notifier {
  return new SystemdNotifier(options.env ?? process.env, options.logger);
}
