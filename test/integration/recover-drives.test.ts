// Disaster recovery: EAR enabled with AKs at the dev key server, ekmd stopped, its whole
// state directory lost; `ekmctl recover drives` finds the AKs by their Names (as the dev
// PKI client, which shares the cluster's CN), matches them to the simulated drives, and
// with --apply rebuilds the store so that a restarted ekmd unlocks the power-cycled
// drives. --apply refuses while ekmd runs and on a store that is not empty.
import t from 'tap';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BOOTSTRAP, rpc } from '../daemon/ekmd-process';
import { bin } from '../helpers/paths';
import { enableEar, runBin, simDrives, startNode, until } from './fixtures/node-scenario';

t.test('recover drives rebuilds the drive → key map from the key server', async (t) => {
  const node = await startNode(t, { drives: 3 });
  t.teardown(() => node.stop());
  const { uuid } = await enableEar(node);
  const before = (await node.call('ListDrives')).drives as { serial: string; keyID: string }[];
  const stateDir = node.work.stateDir;
  const recover = (...extra: string[]) =>
    runBin([
      bin.ekmctl,
      'recover',
      'drives',
      '--kmip-host',
      '127.0.0.1',
      '--kmip-port',
      String(node.kmipPort),
      ...node.kmipFlags(),
      '--sim',
      node.simSocket,
      '--state-dir',
      stateDir,
      ...extra,
    ]);
  const outputs: string[] = [];

  // A report: every drive's key found by its Name.
  const dry = await recover('--json');
  outputs.push(dry.stdout, dry.stderr);
  t.equal(dry.code, 0, dry.stderr);
  const report = JSON.parse(dry.stdout) as {
    clusterUuid: string;
    drives: { serial: string; drive: string; keyIDs: string[]; outcome: string }[];
    applied: unknown;
  };
  t.equal(report.clusterUuid, uuid);
  t.equal(report.applied, null, 'nothing written without --apply');
  t.same(
    report.drives.map((d) => [d.serial, d.keyIDs, d.outcome]).sort(),
    before.map((d) => [d.serial, [d.keyID], 'recoverable']).sort(),
    'each drive matched to its key',
  );

  // Refused while ekmd holds the state directory.
  const running = await recover('--apply');
  outputs.push(running.stdout, running.stderr);
  t.equal(running.code, 1);
  t.match(running.stderr, /stop ekmd first/);
  await node.stopEkmd();
  // Refused on a store that is not empty.
  const full = await recover('--apply');
  outputs.push(full.stdout, full.stderr);
  t.equal(full.code, 1);
  t.match(
    full.stderr,
    /is not empty \(drive records, key records, key servers, key providers, a key pair, EAR enabled\)/,
  );

  // The state directory is lost.
  for (const f of readdirSync(stateDir)) rmSync(join(stateDir, f), { recursive: true });
  const usage = await runBin([bin.ekmctl, 'recover', 'drives', '--apply', ...node.kmipFlags()]);
  t.equal(usage.code, 2, 'missing --kmip-host: usage error');
  const applied = await recover('--apply', '--cluster-uuid', uuid);
  outputs.push(applied.stdout, applied.stderr);
  t.equal(applied.code, 0, applied.stderr);
  t.match(
    applied.stdout,
    /^wrote 3 drive\(s\) and their keys to .* \(key provider 1\); start ekmd/m,
  );

  // A node boot: the drives lock; the rebuilt ekmd unlocks them with the recovered keys.
  await node.sim('power-cycle');
  t.ok(
    (await simDrives(node)).every((d) => d.locked),
    'locked after the power cycle',
  );
  await node.startEkmd();
  await until(async () => (await simDrives(node)).every((d) => !d.locked), 'boot unlock');
  t.pass('every drive unlocked at boot with the recovered key map');
  const listed = JSON.parse(
    (await rpc(node.apiPort, node.work.ca, BOOTSTRAP, 'ListDrives')).body,
  ) as { result?: { drives: { serial: string; keyID: string; keyProviderID: number }[] } };
  t.same(
    listed.result?.drives.map((d) => [d.serial, d.keyID, d.keyProviderID]).sort(),
    before.map((d) => [d.serial, d.keyID, 1]).sort(),
    'ListDrives shows the same keys',
  );

  const { objects } = JSON.parse(readFileSync(join(node.kmipState, 'objects.json'), 'utf8')) as {
    objects: { material?: string }[];
  };
  const aks = objects.filter((o) => o.material).map((o) => Buffer.from(o.material!, 'hex'));
  t.equal(aks.length, 3);
  for (const ak of aks)
    for (const f of [ak.toString('hex'), ak.toString('hex').toUpperCase(), ak.toString('base64')])
      t.notOk(
        outputs.some((o) => o.includes(f)),
        'no AK in recover output',
      );
});
