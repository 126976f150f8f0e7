// The dev key server keeps its port across starts, so a start after the first is a plain
// node boot: no early key request to a stale port, no move of the key server through the
// API, and the unlock time printed is the boot's. Only a taken port moves it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DevStarts, freePort, stop } from './fixtures/dev-start';

t.test('two starts in a row: the same key server port, the second a plain boot', async (t) => {
  const starts = new DevStarts(t);
  const remembered = () =>
    JSON.parse(readFileSync(join(starts.state, 'kmip-port.json'), 'utf8')) as { port: number };
  const port = await freePort();

  const first = await starts.start(port);
  const kmipPort = first.summary[4]!;
  t.same(remembered(), { port: Number(kmipPort) }, 'the key server port is remembered');
  await stop(t, first);

  const second = await starts.start(port);
  t.equal(second.summary[4], kmipPort, 'the second start keeps the key server port');
  t.notMatch(second.output(), /now at port/, 'the key server is not moved');
  t.notMatch(second.output(), /is taken/);
  t.same(second.summary.slice(5, 7), ['4', '4'], 'boot unlock after the power cycle');
  await stop(t, second);
  t.notMatch(
    readFileSync(join(starts.state, 'logs', 'ekmd.log'), 'utf8'),
    /drive left locked/,
    'no key request failed at boot',
  );

  // Someone else on the remembered port (a listener that hangs up at once): a new port.
  const squatter = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => squatter.listen(Number(kmipPort), '127.0.0.1', resolve));
  t.teardown(() => squatter.close());
  const third = await starts.start(port);
  const moved = third.summary[4]!;
  t.not(moved, kmipPort, 'a new port when the remembered one is taken');
  t.match(third.output(), new RegExp(`^port ${kmipPort} of the dev key server is taken`, 'm'));
  t.match(third.output(), new RegExp(`^key server \\d+ now at port ${moved}$`, 'm'));
  t.same(third.summary.slice(5, 7), ['4', '4'], 'drives unlocked with keys from the new port');
  t.same(remembered(), { port: Number(moved) }, 'the new port is remembered');
  await stop(t, third);
});
