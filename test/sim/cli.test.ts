import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin } from '../helpers/paths';
import { SimDataPath } from '../../src/opal/sim-socket/datapath';
import { SimTransport } from '../../src/opal/sim-socket/transport';
import { lockUnlock, provision, save, type Ioctl } from './opal-ops';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-sim-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const sock = join(dir, 'sim.sock');
const state = join(dir, 'state');

// No TLS in the simulator: skip loading extra CA certificates at every start.
const env = { ...process.env, EKMD_SIM_SOCKET: sock, NODE_EXTRA_CA_CERTS: '' };

const sim = (args: string[], input?: string) =>
  spawnSync(process.execPath, [bin.ekmdSim, ...args], { encoding: 'utf8', input, env });

/** Start `ekmd-sim serve`; the process is killed when the whole file ends. */
function serve(stateDir = state, socket = sock): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [bin.ekmdSim, 'serve', '--state', stateDir, '--socket', socket, '--drives', '2', '--size', '2'],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('serving')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err.trim()}`)));
  });
}

const killed = (c: ChildProcess) => new Promise((r) => c.once('exit', r));

async function opal(t: tap.Test) {
  const tr = new SimTransport(sock);
  t.teardown(() => tr.end());
  const fd = await tr.open('sim:0');
  const io: Ioctl = (req, buf) => tr.ioctl(fd, req, buf);
  return io;
}

let current: ChildProcess;
const pin = randomBytes(32);
const dek = randomBytes(64);
const data = randomBytes(512);

t.test('usage errors exit 2 with one line', async (t) => {
  for (const args of [
    ['serve', '--state', state, '--socket', sock, '--drives', 'x'],
    ['inject', '--drive', '0', 'fire'],
  ]) {
    const r = sim(args);
    t.equal(r.status, 2, args.join(' '));
    t.equal(r.stderr.trim().split('\n').length, 1);
  }
  const noSocket = spawnSync(process.execPath, [bin.ekmdSim, 'status'], {
    encoding: 'utf8',
    env: { ...env, EKMD_SIM_SOCKET: '' },
  });
  t.equal(noSocket.status, 2);
  t.match(noSocket.stderr, /--socket PATH is required/);
  const nobody = sim(['status']);
  t.equal(nobody.status, 1, 'nobody serving: failure');
  t.match(nobody.stderr, /cannot reach ekmd-sim/);
});

t.test('serve, provision, write; kill -9 and restart keeps it unlocked', async (t) => {
  const first = await serve();
  const io = await opal(t);
  t.same(await provision(io, pin), [0, 0, 0]);
  t.equal((await save(io, pin)).rc, 0);
  const dp = new SimDataPath(sock);
  await dp.attach(sim(['status', '--json']).stdout.match(/"serial": "(\w+)"/)![1], dek);
  await dp.close();
  const w = sim(['write', '--drive', '0', '--lba', '42'], data.toString('hex'));
  t.equal(w.status, 0, w.stderr);
  await lockUnlock(io, randomBytes(32)); // one wrong PIN: Tries 1
  first.kill('SIGKILL');
  await killed(first);

  current = await serve();
  const r = sim(['read', '--drive', '0', '--lba', '42']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), data.toString('hex'), 'same data after kill -9');
  const st = JSON.parse(sim(['status', '--json']).stdout);
  t.match(st.drives[0], {
    mode: 'opal',
    locked: false,
    lsp: 'manufactured',
    dek: 'attached',
    tries: { admin1: 1 },
    savedUnlocks: 1,
  });
  t.notMatch(JSON.stringify(st), new RegExp(pin.toString('hex'), 'i'));
});

t.test('power-cycle relocks: read fails with one line; unlock brings it back', async (t) => {
  t.equal(sim(['power-cycle', '--drive', '0']).status, 0);
  const locked = sim(['read', '--drive', '0', '--lba', '42']);
  t.equal(locked.status, 1);
  t.equal(locked.stdout, '');
  t.match(locked.stderr, /^ekmd-sim read: LBA 42 of sim:0 is locked\n$/);
  const io = await opal(t);
  t.equal((await lockUnlock(io, pin)).rc, 0);
  const noDek = sim(['read', '--drive', '0', '--lba', '42']);
  t.equal(noDek.status, 1, 'the power cycle also dropped the DEK');
  t.match(noDek.stderr, /no DEK is attached/);
});

t.test('suspend-resume replays the saved unlock; status text', async (t) => {
  const io = await opal(t);
  await save(io, pin);
  t.equal(sim(['suspend-resume']).status, 0);
  const text = sim(['status']).stdout;
  t.match(text, /^ 0 {2}SIM\w+ {2}opal {3}unlocked/, text);
});

t.test('the state files hold no PIN, no DEK and no written data in the clear', async (t) => {
  const needles: [string, Buffer][] = [];
  for (const [name, secret] of [
    ['PIN', pin],
    ['DEK', dek],
    ['data', data],
  ] as const) {
    needles.push([`${name} bytes`, secret]);
    needles.push([`${name} hex`, Buffer.from(secret.toString('hex'))]);
    needles.push([`${name} HEX`, Buffer.from(secret.toString('hex').toUpperCase())]);
    needles.push([`${name} base64`, Buffer.from(secret.toString('base64').slice(0, 40))]);
  }
  needles.push(['a data fragment', data.subarray(200, 232)]);
  const files = readdirSync(state);
  t.ok(files.includes('drive-0.json') && files.includes('drive-0.img'));
  for (const f of files) {
    const content = readFileSync(join(state, f));
    for (const [what, needle] of needles) t.equal(content.indexOf(needle), -1, `${f}: no ${what}`);
  }
});

t.test('one server per socket and per state dir; SIGTERM stops it', async (t) => {
  await t.rejects(serve(state, join(dir, 'other.sock')), /exited 1: .*another ekmd-sim is using/);
  await t.rejects(serve(join(dir, 'other'), sock), /exited 1: .*another ekmd-sim is serving/);
  current.kill('SIGTERM');
  t.equal(await killed(current), 0);
  t.notOk(existsSync(sock), 'socket removed');
});
