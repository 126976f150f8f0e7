// Keys asked for ahead (every drive under EAR) and taken for the locked ones: a round takes
// only its drives' keys, zeroes the rest at once, and reports a key server only for the keys
// it took; answers that lack one of its keys do not cover it.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  answersCover,
  collectKeys,
  zeroAnswers,
  type KeyAnswers,
} from '../../../src/cluster/boot-unlock/fetch-keys';
import { keyCheckValue, type DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import type { Sealer } from '../../../src/cluster/sealer';

const noSealer = {} as Sealer; // only internal keys are unsealed; these are all external

function record(n: number, ak: Buffer): DriveKeyRecord {
  return {
    keyID: `key-${n}`,
    keyProviderID: 1,
    state: 'live',
    purpose: 'driveAuthentication',
    driveID: n,
    serial: `SER${n}`,
    kmipUID: `uid-${n}`,
    sealedKey: null,
    keyCheckValue: keyCheckValue(ak, `SER${n}`),
    createTime: new Date(0).toISOString(),
  };
}

function answersFor(aks: Buffer[], missing: number[] = []): KeyAnswers {
  const value = new Map<string, Buffer | Error>();
  aks.forEach((ak, i) =>
    value.set(`uid-${i}`, missing.includes(i) ? new Error('Item Not Found') : Buffer.from(ak)),
  );
  return new Map([[1, { value, failed: new Map(), servedBy: 7 }]]);
}

const isZero = (b: Buffer) => b.every((x) => x === 0);

t.test('the round takes its keys; the others are zeroed at once', async (t) => {
  const aks = [0, 1, 2, 3].map(() => randomBytes(32));
  const records = aks.map((ak, i) => record(i, ak));
  const answers = answersFor(aks);
  const fetched = answers.get(1)!.value!;
  const wanted = [records[1]!, records[3]!];
  t.ok(answersCover(answers, wanted));
  const keys = collectKeys(noSealer, wanted, answers);
  t.same([...keys.aks.keys()], ['key-1', 'key-3']);
  t.ok((keys.aks.get('key-1') as Buffer).equals(aks[1]!), 'the locked drive gets its key');
  t.ok((keys.aks.get('key-3') as Buffer).equals(aks[3]!));
  t.ok(isZero(fetched.get('uid-0') as Buffer), 'a key no locked drive needs is zeroed');
  t.ok(isZero(fetched.get('uid-2') as Buffer));
  t.notOk(isZero(fetched.get('uid-1') as Buffer), 'the taken ones are the caller’s to zero');
  t.same([...keys.servers], [[7, null]], 'the server served every key taken');
});

t.test('a key missing for an unlocked drive is not the round’s fault', async (t) => {
  const aks = [0, 1, 2].map(() => randomBytes(32));
  const records = aks.map((ak, i) => record(i, ak));
  const keys = collectKeys(noSealer, [records[0]!], answersFor(aks, [2]));
  t.same([...keys.servers], [[7, null]], 'only the keys taken count');
  const all = collectKeys(noSealer, records, answersFor(aks, [2]));
  t.match(all.servers.get(7), /1 key\(s\) unavailable \(uid-2: Item Not Found\)/);
  t.match(all.aks.get('key-2'), { retry: true });
});

t.test('nothing locked: nothing taken, nothing reported, all zeroed', async (t) => {
  const aks = [0, 1].map(() => randomBytes(32));
  const answers = answersFor(aks);
  const keys = collectKeys(noSealer, [], answers);
  t.equal(keys.aks.size, 0);
  t.equal(keys.servers.size, 0, 'no key server outcome');
  t.ok([...answers.get(1)!.value!.values()].every((b) => isZero(b as Buffer)));
});

t.test('answers without one of the round’s keys do not cover it', async (t) => {
  const aks = [0, 1].map(() => randomBytes(32));
  const late = record(5, randomBytes(32)); // a drive that came after the keys were asked for
  const answers = answersFor(aks);
  t.notOk(answersCover(answers, [late]));
  t.notOk(answersCover(new Map(), [late]), 'nor does no answer from its provider');
  const failed: KeyAnswers = new Map([[1, { error: 'connect refused', failed: new Map() }]]);
  t.ok(answersCover(failed, [late]), 'a provider that failed as a whole answered for all');
  t.ok(answersCover(new Map(), [{ ...late, keyProviderID: null }]), 'internal keys need none');
  zeroAnswers(answers);
  t.ok([...answers.get(1)!.value!.values()].every((b) => isZero(b as Buffer)));
});
