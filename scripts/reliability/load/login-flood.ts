// A password-guessing flood against the API while an admin works: 500 wrong logins at once
// from one address, plus one from each of 500 other loopback addresses (Linux routes all
// of 127.0.0.0/8 to lo; each request binds its source with localAddress), each on a new
// connection, tried again (up to 5 times) when a cap closes it. Meanwhile the admin calls ListDrives every 100 ms on a kept-alive connection
// with credentials already verified, and logs in afresh (a header never verified) every
// 300 ms, following Retry-After. The flood runs in a child process so its TLS work is not
// on the measuring event loop.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { percentile, round } from './stats';

export interface LoginFloodOptions {
  port: number;
  /** Wrong logins at once from `singleAddress`. */
  single: number;
  singleAddress: string;
  /** Wrong logins from as many addresses, from 127.0.1.1 on. */
  spread: number;
  /** The user name the single address guesses for (the spread ones use random names). */
  user: string;
}

export interface FloodReport {
  attempts: number;
  /** "one address: 429", "spread: reset" (a connection closed unanswered), … → count. */
  outcomes: Record<string, number>;
  ms: number;
}

export interface AdminUnderFloodReport {
  flood: FloodReport;
  adminCalls: number;
  adminP50Ms: number;
  adminP99Ms: number;
  adminMaxMs: number;
  adminErrors: number;
  /** ms from the first try of each fresh login to its admission. */
  freshLoginMs: number[];
  freshLoginFailures: number;
}

const BODY = '{"method":"ListDrives","id":1}';
/** Tries of a guess whose connection is closed unanswered. */
const MAX_TRIES = 5;
const basic = (user: string, password: string) =>
  Buffer.from(`${user}:${password}`).toString('base64');

/** The nth address of the spread: 127.0.1.1, …, 127.0.1.254, 127.0.2.1, … */
function spreadAddress(n: number): string {
  return `127.0.${1 + Math.floor(n / 254)}.${1 + (n % 254)}`;
}

/** A guess; a connection closed unanswered (a cap) is tried again, as a real client would. */
async function attempt(port: number, localAddress: string, user: string): Promise<string> {
  for (let tries = 1; ; tries++) {
    const outcome = await once(port, localAddress, user);
    if (outcome !== 'reset' || tries === MAX_TRIES) return outcome;
    await delay(20 + Math.random() * 80);
  }
}

function once(port: number, localAddress: string, user: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        path: '/json-rpc/12.3',
        method: 'POST',
        agent: false,
        rejectUnauthorized: false,
        headers: { Authorization: `Basic ${basic(user, randomBytes(9).toString('base64'))}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
        res.on('error', () => resolve('reset'));
      },
    );
    req.on('error', () => resolve('reset'));
    req.end(BODY);
  });
}

/** Runs the flood in this process. */
export async function floodLogins(opts: LoginFloodOptions): Promise<FloodReport> {
  const started = Date.now();
  const all = [
    ...Array.from({ length: opts.single }, () =>
      attempt(opts.port, opts.singleAddress, opts.user).then((o) => `one address: ${o}`),
    ),
    ...Array.from({ length: opts.spread }, (_, i) =>
      attempt(opts.port, spreadAddress(i), `user-${randomBytes(4).toString('hex')}`).then(
        (o) => `spread: ${o}`,
      ),
    ),
  ];
  const outcomes: Record<string, number> = {};
  for (const o of await Promise.all(all)) outcomes[o] = (outcomes[o] ?? 0) + 1;
  return { attempts: all.length, outcomes, ms: Date.now() - started };
}

/** Runs the flood in a child process. */
export function floodLoginsInChild(opts: LoginFloodOptions): Promise<FloodReport> {
  const child = fork(__filename, ['--flood'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (report) => {
      child.disconnect();
      resolve(report as FloodReport);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`login flood exited with ${code}`)));
    child.send(opts);
  });
}

if (require.main === module && process.argv.includes('--flood')) {
  process.once('message', (opts) => {
    void floodLogins(opts as LoginFloodOptions).then((report) => process.send?.(report));
  });
}

/** One admin call; resolves with its status and ms. */
function adminCall(
  agent: Agent,
  port: number,
  authorization: string,
): Promise<{ status: number; ms: number; retryAfterS: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/json-rpc/12.3', method: 'POST', agent },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: Number(process.hrtime.bigint() - started) / 1e6,
            retryAfterS: Number(res.headers['retry-after'] ?? 1),
          }),
        );
      },
    );
    req.setHeader('Authorization', authorization);
    req.on('error', reject);
    req.end(BODY);
  });
}

/**
 * The flood, with the admin's calls measured around it. `admin`'s credentials must be
 * valid; the server must trust connections from 127.0.0.1 with `ca`.
 */
export async function adminUnderFlood(
  opts: LoginFloodOptions & { ca: string; admin: { username: string; password: string } },
): Promise<AdminUnderFloodReport> {
  const token = basic(opts.admin.username, opts.admin.password);
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: opts.ca });
  const freshAgent = new Agent({ keepAlive: true, maxSockets: 1, ca: opts.ca });
  try {
    const warm = await adminCall(agent, opts.port, `Basic ${token}`);
    if (warm.status !== 200) throw new Error(`admin login answered ${warm.status}`);
    let flooding = true;
    const flood = floodLoginsInChild(opts).finally(() => (flooding = false));
    const latencies: number[] = [];
    let adminErrors = 0;
    const poll = (async () => {
      while (flooding) {
        const next = delay(100);
        const r = await adminCall(agent, opts.port, `Basic ${token}`).catch(() => undefined);
        if (r?.status === 200) latencies.push(r.ms);
        else adminErrors++;
        await next;
      }
    })();
    // A header never seen: "Basic", k spaces, the token; each needs a real check.
    const freshLoginMs: number[] = [];
    let freshLoginFailures = 0;
    const fresh = (async () => {
      for (let k = 2; flooding; k++) {
        const started = Date.now();
        const header = `Basic${' '.repeat(k)}${token}`;
        for (;;) {
          const r = await adminCall(freshAgent, opts.port, header).catch(() => undefined);
          if (r?.status === 200) {
            freshLoginMs.push(Date.now() - started);
            break;
          }
          if (!r || (r.status !== 429 && r.status !== 503) || Date.now() - started > 15_000) {
            freshLoginFailures++;
            break;
          }
          await delay(r.retryAfterS * 1000);
        }
        await delay(300);
      }
    })();
    const report = await flood;
    await Promise.all([poll, fresh]);
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      flood: report,
      adminCalls: latencies.length,
      adminP50Ms: round(percentile(sorted, 50)),
      adminP99Ms: round(percentile(sorted, 99)),
      adminMaxMs: round(sorted[sorted.length - 1] ?? 0),
      adminErrors,
      freshLoginMs,
      freshLoginFailures,
    };
  } finally {
    agent.destroy();
    freshAgent.destroy();
  }
}
