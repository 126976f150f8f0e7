// Until CreateCluster the bootstrap password opens the API: ekmd listens on loopback then,
// unless api.bootstrapListen says otherwise, and moves to api.listen as soon as the
// cluster is created (and at every start after that).
import t from 'tap';
import { connect, createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { BOOTSTRAP, ready, rpc, runEkmd, workdir, type Ekmd } from './ekmd-process';

/** An address of this machine that is not loopback, where a wildcard listener answers. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
const skip = external ? false : 'no non-loopback IPv4 address here';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '0.0.0.0', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** True when a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function readyAddress(ekmd: Ekmd): { host: string; port: number } {
  const line = ekmd
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"ekmd ready"'));
  return (JSON.parse(line!) as { api: { host: string; port: number } }).api;
}

async function logged(ekmd: Ekmd, text: string): Promise<void> {
  for (let i = 0; i < 200 && !ekmd.output().includes(text); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The openssl-made certificate of workdir(), which rpc() trusts. */
const tls = { cert: 'api.crt', key: 'api.key' };
const admin = { username: 'admin', password: 'cluster-admin-pw-LISTEN' };

t.test('loopback until CreateCluster, then api.listen at once', { skip }, async (t) => {
  const port = await freePort();
  const w = workdir(t, { api: { listen: `0.0.0.0:${port}`, tls } });
  const ekmd = runEkmd(t, w.config);
  t.equal(await ready(ekmd), port);
  t.same(readyAddress(ekmd), { host: '127.0.0.1', port }, 'on loopback at the port of api.listen');
  t.equal(await accepts(external!, port), false, `nothing answers at ${external}:${port}`);

  const created = await rpc(port, w.ca, BOOTSTRAP, 'CreateCluster', {
    acceptEula: true,
    mvip: '127.0.0.1',
    svip: '127.0.0.2',
    nodes: ['127.0.0.1'],
    ...admin,
  });
  t.equal(created.status, 200);
  t.notMatch(created.body, /"error"/, 'the call that moved the API got its answer');
  await logged(ekmd, 'the API moved to api.listen');
  t.match(ekmd.output(), /"to":\{"host":"0\.0\.0\.0","port":\d+\}/);
  t.equal(await accepts(external!, port), true, `${external}:${port} answers now`);
  const info = await rpc(port, w.ca, admin, 'GetClusterInfo');
  t.match(JSON.parse(info.body), { result: { clusterInfo: { mvip: '127.0.0.1' } } });

  ekmd.child.kill('SIGTERM');
  t.equal(await ekmd.exited, 0);
  const again = runEkmd(t, w.config);
  await ready(again);
  t.same(readyAddress(again), { host: '0.0.0.0', port }, 'a created cluster starts on api.listen');
  again.child.kill('SIGTERM');
  t.equal(await again.exited, 0);
  t.notMatch(ekmd.output() + again.output(), BOOTSTRAP.password);
});

t.test('api.bootstrapListen opens the API before CreateCluster', { skip }, async (t) => {
  const port = await freePort();
  const listen = `0.0.0.0:${port}`;
  const w = workdir(t, { api: { listen, bootstrapListen: listen, tls } });
  const ekmd = runEkmd(t, w.config);
  await ready(ekmd);
  t.same(readyAddress(ekmd), { host: '0.0.0.0', port });
  t.equal(await accepts(external!, port), true, `${external}:${port} answers`);
  ekmd.child.kill('SIGTERM');
  t.equal(await ekmd.exited, 0);
});
