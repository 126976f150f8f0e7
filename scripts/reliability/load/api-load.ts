// Many concurrent API clients against one running ekmd for a while: mixed reads
// (ListKeyServersKmip, GetClusterInfo, ListDrives, ListClusterFaults) and writes (each
// client creates, modifies and deletes its own key server). Every error counts.
import { signClientCsr } from '../../pki/dev-pki';
import { devCa } from '../matrix/scenario';
import { RpcClient } from '../matrix/rpc';
import { ADMIN } from '../matrix/node';
import { loadSetting } from './setting';
import { percentile, round, rssMiB } from './stats';

export interface ApiLoadOptions {
  clients: number;
  durationMs: number;
  /** Share of calls that are writes, 0–1. */
  writeShare?: number;
}

export interface ApiLoadReport {
  clients: number;
  durationS: number;
  calls: number;
  reads: number;
  writes: number;
  errors: number;
  /** Up to 5 distinct error texts. */
  errorSamples: string[];
  /** "method: error name" → count. */
  errorKinds: Record<string, number>;
  callsPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The reads alone (no key server contact). */
  readP50Ms: number;
  readP99Ms: number;
  /** method → calls, p50 and p99 in ms. */
  byMethod: Record<string, { calls: number; p50Ms: number; p99Ms: number }>;
  rssBeforeMiB: number | undefined;
  rssAfterMiB: number | undefined;
}

const READS = ['ListKeyServersKmip', 'GetClusterInfo', 'ListDrives', 'ListClusterFaults'];

export async function runApiLoad(opts: ApiLoadOptions): Promise<ApiLoadReport> {
  const setting = await loadSetting(4);
  try {
    const { node, ctx, csr, kmipPort } = setting;
    const ca = devCa(ctx);
    const cert = signClientCsr(ctx.pki.dir, csr);
    const port = node.rpc.port;
    const apiCa = node.rpc.ca;
    const pid = node.ekmd!.proc.pid;
    const rssBeforeMiB = rssMiB(pid);
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
        const r = await client.call(method, params);
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

    const started = Date.now();
    await Promise.all(Array.from({ length: opts.clients }, (_, i) => worker(i)));
    const durationS = (Date.now() - started) / 1000;
    const rssAfterMiB = rssMiB(pid);
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
      errorSamples: [...new Set(errors)].slice(0, 5),
      errorKinds,
      callsPerS: round(latencies.length / durationS),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(latencies[latencies.length - 1] ?? 0),
      readP50Ms: round(percentile(readLatencies, 50)),
      readP99Ms: round(percentile(readLatencies, 99)),
      byMethod,
      rssBeforeMiB: rssBeforeMiB && round(rssBeforeMiB),
      rssAfterMiB: rssAfterMiB && round(rssAfterMiB),
    };
  } finally {
    await setting.close();
  }
}
