// The memory a busy spell grew into is handed back once the API is quiet: the relief runs
// once per spell, never while calls keep coming, one at a time, and it really collects
// garbage and trims glibc's arenas.
import t from 'tap';
import { setTimeout as delay } from 'node:timers/promises';
import {
  SpellEnd,
  relieveAfterBusySpells,
  relieveMemory,
  type Relief,
} from '../../src/daemon/memory-relief';

t.test('a spell ends at the first quiet tick after a busy one', async (t) => {
  let calls = 5;
  const spells = new SpellEnd(() => calls);
  t.same([spells.tick(), spells.tick()], [false, false], 'quiet from the start: no spell');
  const ticks: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    calls += 3;
    ticks.push(spells.tick());
  }
  t.same(ticks, [false, false, false, false], 'not while calls keep coming');
  t.equal(spells.tick(), true, 'the first quiet tick ends the spell');
  t.same([spells.tick(), spells.tick()], [false, false], 'once');
  calls++;
  t.same([spells.tick(), spells.tick()], [false, true], 'the next spell has its own end');
});

/** Resolves once `calls` has been read `n` more times: n ticks, however slow the machine. */
function ticker() {
  let reads = 0;
  const waiting: { at: number; go: () => void }[] = [];
  return {
    read() {
      reads++;
      for (const w of waiting.filter((w) => reads >= w.at)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.go();
      }
    },
    ticks: (n: number) => new Promise<void>((go) => waiting.push({ at: reads + n, go })),
  };
}

t.test(
  'one relief at a time, each reported; a failure is reported and the next runs',
  async (t) => {
    let calls = 0;
    const clock = ticker();
    let started = 0;
    let release: (() => void) | undefined;
    const reported: string[] = [];
    const relief: Relief = { gcMs: 1, trimMs: 2, rssBeforeMiB: 3, rssAfterMiB: 4 };
    const stop = relieveAfterBusySpells(
      () => (clock.read(), calls),
      (r) => reported.push(`relief ${r.rssAfterMiB}`),
      (err) => reported.push(err.message),
      5,
      () => {
        started++;
        return new Promise<Relief>((resolve, reject) => {
          release = () => (started === 1 ? reject(new Error('trim refused')) : resolve(relief));
        });
      },
    );
    t.teardown(stop);
    const alive = setInterval(() => undefined, 1000); // the relief's own timer is unref'd
    t.teardown(() => clearInterval(alive));
    calls++;
    await clock.ticks(3);
    t.equal(started, 1, 'the spell ended: a relief started');
    calls++;
    await clock.ticks(3);
    t.equal(started, 1, 'a second spell ended while the first relief ran: passed');
    release!();
    await clock.ticks(1);
    t.same(reported, ['trim refused'], 'the failure reported');
    calls++;
    await clock.ticks(3);
    t.equal(started, 2, 'the next spell gets its relief');
    release!();
    await clock.ticks(1);
    t.same(reported, ['trim refused', 'relief 4']);
    stop();
    calls++;
    await delay(50);
    t.equal(started, 2, 'none after the stop');
  },
);

/**
 * ~64 MiB of buffers in malloc's arena, dead on return; the small live ones returned lay
 * between them, so the space is not the arena's top (which glibc returns by itself). In a
 * function of its own: a suspended async function may keep its temporaries alive.
 */
function fillAndDrop(): Buffer[] {
  const filler: Buffer[] = [];
  const pins: Buffer[] = [];
  for (let i = 0; i < 2048; i++) {
    filler.push(Buffer.allocUnsafeSlow(32 * 1024).fill(1));
    if (i % 16 === 0) pins.push(Buffer.allocUnsafeSlow(64).fill(2));
  }
  return pins;
}

t.test('the relief collects garbage and hands glibc memory back to the kernel', async (t) => {
  const pins = fillAndDrop();
  const ref = new WeakRef(pins.map((p) => ({ p })));
  await delay(1); // a WeakRef's target is kept to the end of the job that made it
  const relief = await relieveMemory();
  t.equal(ref.deref(), undefined, 'a full collection ran');
  t.ok(
    relief.rssBeforeMiB - relief.rssAfterMiB >= 32,
    `RSS ${relief.rssBeforeMiB} → ${relief.rssAfterMiB} MiB`,
  );
  t.ok(relief.gcMs >= 0 && relief.trimMs >= 0, 'timed');
  t.equal(pins.length, 128);
  t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', "ekmd's global has no gc()");
});
