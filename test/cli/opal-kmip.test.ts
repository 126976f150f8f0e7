// Break-glass: `ekmctl opal unlock --kmip-uid` fetches a drive's AK from the key server
// (the dev key server, as the dev PKI client that shares the cluster's CN) and unlocks
// the simulated drive with it while ekmd is stopped; the key never shows in the output.
// A key named for another drive is refused before the drive is touched.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bin } from '../helpers/paths';
import {
  enableEar,
  runBin,
  simDrives,
  startNode,
  type Node,
} from '../integration/fixtures/node-scenario';

interface Obj {
  uid: string;
  attributes: { names?: string[] };
  material?: string;
}

function akOf(node: Node, serial: string): { uid: string; material: Buffer } {
  const file = JSON.parse(readFileSync(join(node.kmipState, 'objects.json'), 'utf8')) as {
    objects: Obj[];
  };
  const o = file.objects.find((x) =>
    (x.attributes.names ?? []).some((n) => n.includes(` serial=${serial} `)),
  );
  if (!o?.material) throw new Error(`no AK for ${serial}`);
  return { uid: o.uid, material: Buffer.from(o.material, 'hex') };
}

function encodings(b: Buffer): string[] {
  const hex = b.toString('hex');
  return [hex, hex.toUpperCase(), b.toString('base64'), b.toString('base64url')];
}

t.test('opal unlock --kmip-uid against the dev key server and ekmd-sim', async (t) => {
  const node = await startNode(t, { drives: 2 });
  t.teardown(() => node.stop());
  await enableEar(node);
  await node.stopEkmd();
  await node.sim('power-cycle');
  const [d0, d1] = await simDrives(node);
  t.ok(d0!.locked && d1!.locked, 'both drives locked after the power cycle');
  const ak0 = akOf(node, d0!.serial);
  const ak1 = akOf(node, d1!.serial);

  const unlock = (uid: string, ...extra: string[]) =>
    runBin([
      bin.ekmctl,
      'opal',
      'unlock',
      '--sim',
      node.simSocket,
      '--drive',
      '0',
      '--kmip-uid',
      uid,
      '--kmip-host',
      '127.0.0.1',
      '--kmip-port',
      String(node.kmipPort),
      ...node.kmipFlags(),
      ...extra,
    ]);
  const outputs: string[] = [];

  // Usage errors: exit 2, nothing tried.
  const both = await unlock(ak0.uid, '--pin-file', '/nonexistent');
  t.equal(both.code, 2, 'with --pin-file: usage error');
  t.match(both.stderr, /--pin-file and --kmip-uid are exclusive/);
  const noHost = await runBin([
    bin.ekmctl,
    'opal',
    'unlock',
    '--sim',
    node.simSocket,
    '--drive',
    '0',
    '--kmip-uid',
    ak0.uid,
    ...node.kmipFlags(),
  ]);
  t.equal(noHost.code, 2);
  t.match(noHost.stderr, /needs --kmip-host/);

  // Another drive's key: refused by its Name, the drive is not touched.
  const wrong = await unlock(ak1.uid);
  outputs.push(wrong.stdout, wrong.stderr);
  t.equal(wrong.code, 1, 'a key named for another drive: failure');
  t.match(
    wrong.stderr,
    new RegExp(`named for drive serial ${d1!.serial}, but this drive is ${d0!.serial}`),
  );
  const unknown = await unlock('no-such-uid');
  outputs.push(unknown.stdout, unknown.stderr);
  t.equal(unknown.code, 1, 'unknown UID: failure');
  t.match(unknown.stderr, /Get no-such-uid failed/);
  let now = await simDrives(node);
  t.ok(now[0]!.locked, 'drive 0 still locked');
  t.equal(
    (now[0] as unknown as { tries: { admin1: number } }).tries.admin1,
    0,
    'no Opal authentication attempt was spent on drive 0',
  );

  // Its own key: unlocked, the key never printed.
  const ok = await unlock(ak0.uid, '--json');
  outputs.push(ok.stdout, ok.stderr);
  t.equal(ok.code, 0, `unlocked: ${ok.stderr}`);
  const result = JSON.parse(ok.stdout) as Record<string, unknown>;
  t.same(result, { ...result, ok: true, device: 'sim:0', range: 0, mode: 'rw', kmipUID: ak0.uid });
  now = await simDrives(node);
  t.notOk(now[0]!.locked, 'drive 0 unlocked');
  t.ok(now[1]!.locked, 'drive 1 untouched');
  const text = await unlock(ak0.uid);
  outputs.push(text.stdout, text.stderr);
  t.match(
    text.stdout,
    new RegExp(`^sim:0: range 0 unlocked rw .* with key ${ak0.uid} from the key server$`, 'm'),
  );

  for (const ak of [ak0, ak1])
    for (const enc of encodings(ak.material))
      t.notOk(
        outputs.some((o) => o.includes(enc)),
        'no AK encoding in any output',
      );
});
