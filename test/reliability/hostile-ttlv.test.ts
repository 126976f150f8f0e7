// decodeTtlv under 1,000,000 mutated and random inputs seeded from captured messages:
// TtlvError is the only exception, no input takes long, memory stays bounded.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { nestingBomb } from '../../scripts/reliability/fuzz/mutators';
import { runFuzzSync } from '../../scripts/reliability/fuzz/runner';
import { loadCapturedMessages, ttlvTarget } from '../../scripts/reliability/fuzz/targets/ttlv';
import { TtlvError, decodeTtlv } from '../../src/kmip/ttlv';
import { sharedDir } from '../helpers/paths';

const messagesDir = join(sharedDir, 'kmip-messages');
const MiB = 1024 * 1024;

t.test('nesting bombs are refused with TtlvError at every depth limit', async (t) => {
  t.throws(() => decodeTtlv(nestingBomb(33)), TtlvError, 'past the default depth');
  t.throws(() => decodeTtlv(nestingBomb(5000), { maxDepth: 1024 }), TtlvError, 'past the ceiling');
  t.ok(decodeTtlv(nestingBomb(1023), { maxDepth: 1024, maxBytes: 16 * MiB }), 'within it');
});

t.test(
  '1,000,000 hostile inputs',
  { skip: existsSync(messagesDir) ? false : `no captured KMIP messages in ${messagesDir}` },
  async (t) => {
    const seeds = loadCapturedMessages(messagesDir);
    t.ok(seeds.length > 0, `${seeds.length} captured messages as seeds`);
    for (const seed of seeds) decodeTtlv(seed, { maxBytes: 16 * MiB });
    const report = runFuzzSync(ttlvTarget(seeds), {
      iterations: 1_000_000,
      seed: 0x77f1,
      hangMs: 1000,
    });
    t.same(report.failures, [], 'no crash or hang to replay');
    t.equal(report.counts.crash, 0, 'zero crashes');
    t.equal(report.counts.hang, 0, 'zero hangs');
    t.ok(report.counts.accepted > 0, 'some mutants still decode: the mutators stay near TTLV');
    t.ok(report.counts.rejected > 0, 'most are refused');
    t.ok(
      report.heapGrowthBytes < 64 * MiB,
      `heap grew ${(report.heapGrowthBytes / MiB).toFixed(1)} MiB`,
    );
  },
);
