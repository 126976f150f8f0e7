// Many concurrent API clients against one running ekmd for a while: mixed reads
// (ListKeyServersKmip, GetClusterInfo, ListDrives, ListClusterFaults) and writes (each
// client creates, modifies and deletes its own key server). Every error counts. ekmd's
// RSS is sampled every 250 ms through the run, and again once it has been idle a while.
import { loadavg } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { signClientCsr } from '../../pki/dev-pki';
import { devCa } from '../matrix/scenario';
import { RefusedBeforeHandshake, RpcClient } from '../matrix/rpc';
import { ADMIN } from '../matrix/node';
import { loadSetting } from './setting';
import { RssSampler, cpuSeconds, percentile, processEnv, round } from './stats';

export interface ApiLoadOptions {
  clients: number;
  durationMs: number;
  /** Share of calls that are writes, 0–1. */
  writeShare?: number;
  /** After the run, wait this long with ekmd idle and sample its RSS again (default 0: not). */
  idleAfterMs?: number;
  /** Variables ekmd starts with; default the systemd unit's Environment=. */
  ekmdEnv?: Record<string, string>;
}

export interface ApiLoadReport {
  clients: number;
  durationS: number;
  calls: number;
  reads: number;
  writes: number;
  errors: number;
  /** Calls made again because the API closed their connection before the TLS handshake. */
  reconnects: number;
  /** Up to 5 distinct error texts. */
  errorSamples: string[];
  /** "method: error name" → count. */
  errorKinds: Record<string, number>;
  callsPerS: number;
  /**
   * ekmd's CPU time (user + system) per call, in ms: its cost per call, which a machine
   * busy with other work changes much less than calls/s.
   */
  ekmdCpuMsPerCall: number | undefined;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The reads alone (no key server contact). */
  readP50Ms: number;
  readP99Ms: number;
  /** method → calls, p50 and p99 in ms. */
  byMethod: Record<string, { calls: number; p50Ms: number; p99Ms: number }>;
  rssBeforeMiB: number | undefined;
  /** The largest of the samples taken every 250 ms from the first call to the last answer. */
  rssMaxDuringMiB: number | undefined;
  rssDuringSamples: number;
  /** At the last answer. */
  rssAfterMiB: number | undefined;
  /** idleAfterMs after the last answer, ekmd idle meanwhile; undefined when not waited. */
  rssIdleMiB: number | undefined;
  idleAfterS: number;
  /** This machine's 1-minute load average at the start and at the end of the calls. */
  loadAvgBefore: number;
  loadAvgAfter: number;
  /** The variables asked for ekmd (the unit's by default), as ekmd's /proc/PID/environ has them. */
  ekmdEnv: Record<string, string>;
}

/** What ekmd's RSS should stay under (docs/OPERATIONS.md, memory): the 200-client run's goals. */
export const RSS_GOALS = { maxDuringMiB: 200, idleAfterMiB: 160, idleAfterS: 60 };

/** Tries of a call whose connection the API closes before its TLS handshake. */
const MAX_CONNECT_TRIES = 5;

/**
 * A call; when the API closes the connection before the TLS handshake (its cap on
 * handshakes at once, or on connections, refused it), nothing was sent, and the call is
 * made again on a new connection after a short pause, as a real client would (up to
 * MAX_CONNECT_TRIES). Any other failure is the call's.
 */
async function callRetryingRefused(
  client: RpcClient,
  method: string,
  params: object,
  onRetry: () => void,
) {
  for (let tries = 1; ; tries++) {
    try {
      return await client.call(method, params);
    } catch (err) {
      if (!(err instanceof RefusedBeforeHandshake) || tries === MAX_CONNECT_TRIES) throw err;
      onRetry();
      await delay(20 + Math.random() * 80);
    }
  }
}

const READS = ['ListKeyServersKmip', 'GetClusterInfo', 'ListDrives', 'ListClusterFaults'];

export async function runApiLoad(opts: ApiLoadOptions): Promise<ApiLoadReport> {
  const setting = await loadSetting(4, opts.ekmdEnv);
  try {
    const { node, ctx, csr, kmipPort } = setting;
    const ca = devCa(ctx);
    const cert = signClientCsr(ctx.pki.dir, csr);
    const port = node.rpc.port;
    const apiCa = node.rpc.ca;
    const pid = node.ekmd!.proc.pid;
    const environ = processEnv(pid) ?? {};
    const ekmdEnv = Object.fromEntries(
      Object.keys(setting.ekmdEnv)
        .filter((k) => k in environ)
        .map((k) => [k, environ[k]!]),
    );
    const rss = new RssSampler(pid);
    const rssBeforeMiB = rss.sample();
    const loadAvgBefore = loadavg()[0]!;
    const latencies: number[] = [];
    const readLatencies: number[] = [];
    const perMethod = new Map<string, number[]>();
    const errors: string[] = [];
    const errorKinds: Record<string, number> = {};
    const failed = (method: string, kind: string, text: string) => {
      errors.push(`${method}: ${text}`);
      errorKinds[`${method}: ${kind}`] = (errorKinds[`${method}: ${kind}`] ?? 0) + 1;
    };
    let reads = 0;
    let writes = 0;
    let reconnects = 0;
    const writeShare = opts.writeShare ?? 0.2;
    const deadline = Date.now() + opts.durationMs;

    const timed = async (client: RpcClient, method: string, params: object = {}) => {
      const t0 = performance.now();
      const took = () => {
        const ms = performance.now() - t0;
        latencies.push(ms);
        if (READS.includes(method)) readLatencies.push(ms);
        const sample = perMethod.get(method);
        if (sample) sample.push(ms);
        else perMethod.set(method, [ms]);
      };
      try {
        const r = await callRetryingRefused(client, method, params, () => reconnects++);
        took();
        if (r.error) {
          failed(method, r.error.name, `${r.error.name}: ${r.error.message}`);
          return undefined;
        }
        return r.result;
      } catch (err) {
        took();
        failed(method, 'transport', (err as Error).message);
        return undefined;
      }
    };

    const worker = async (i: number) => {
      // Each client from its own loopback address, as clients on several hosts: the API caps
      // the connections of one address.
      const client = new RpcClient(
        port,
        apiCa,
        ADMIN,
        `127.0.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`,
      );
      let own: number | undefined;
      let n = 0;
      try {
        while (Date.now() < deadline) {
          if (Math.random() >= writeShare) {
            reads++;
            await timed(client, READS[(i + n++) % READS.length]!);
            continue;
          }
          writes++;
          if (own === undefined) {
            const r = await timed(client, 'CreateKeyServerKmip', {
              kmipCaCertificate: ca,
              kmipClientCertificate: cert,
              kmipKeyServerHostnames: ['127.0.0.1'],
              kmipKeyServerName: `load-${i}-${n++}`,
              kmipKeyServerPort: kmipPort,
            });
            own = r?.kmipKeyServer?.keyServerID as number | undefined;
          } else if (n++ % 2 === 0) {
            await timed(client, 'ModifyKeyServerKmip', {
              keyServerID: own,
              kmipKeyServerName: `load-${i}-${n}`,
            });
          } else {
            await timed(client, 'DeleteKeyServerKmip', { keyServerID: own });
            own = undefined;
          }
        }
      } finally {
        client.close();
      }
    };

    const during = new RssSampler(pid).start(250);
    const cpuBefore = cpuSeconds(pid);
    const started = Date.now();
    await Promise.all(Array.from({ length: opts.clients }, (_, i) => worker(i)));
    const durationS = (Date.now() - started) / 1000;
    const cpuAfter = cpuSeconds(pid);
    during.stop();
    const loadAvgAfter = loadavg()[0]!;
    const rssAfterMiB = during.last;
    const idleAfterMs = opts.idleAfterMs ?? 0;
    let rssIdleMiB: number | undefined;
    if (idleAfterMs > 0) {
      await delay(idleAfterMs);
      rssIdleMiB = rss.sample();
    }
    latencies.sort((a, b) => a - b);
    readLatencies.sort((a, b) => a - b);
    const byMethod: ApiLoadReport['byMethod'] = {};
    for (const [method, ms] of perMethod) {
      ms.sort((a, b) => a - b);
      byMethod[method] = {
        calls: ms.length,
        p50Ms: round(percentile(ms, 50)),
        p99Ms: round(percentile(ms, 99)),
      };
    }
    return {
      clients: opts.clients,
      durationS: round(durationS),
      calls: latencies.length,
      reads,
      writes,
      errors: errors.length,
      reconnects,
      errorSamples: [...new Set(errors)].slice(0, 5),
      errorKinds,
      callsPerS: round(latencies.length / durationS),
      ekmdCpuMsPerCall:
        cpuBefore === undefined || cpuAfter === undefined || latencies.length === 0
          ? undefined
          : round(((cpuAfter - cpuBefore) * 1000) / latencies.length, 2),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(latencies[latencies.length - 1] ?? 0),
      readP50Ms: round(percentile(readLatencies, 50)),
      readP99Ms: round(percentile(readLatencies, 99)),
      byMethod,
      rssBeforeMiB: rssBeforeMiB && round(rssBeforeMiB),
      rssMaxDuringMiB: during.max && round(during.max),
      rssDuringSamples: during.samples,
      rssAfterMiB: rssAfterMiB && round(rssAfterMiB),
      rssIdleMiB: rssIdleMiB && round(rssIdleMiB),
      idleAfterS: round(idleAfterMs / 1000),
      loadAvgBefore: round(loadAvgBefore, 2),
      loadAvgAfter: round(loadAvgAfter, 2),
      ekmdEnv,
    };
  } finally {
    await setting.close();
  }
}
