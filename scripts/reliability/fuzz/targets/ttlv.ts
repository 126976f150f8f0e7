// decodeTtlv under mutated captured messages, splices, nesting bombs and random bytes:
// the only exception it may throw is TtlvError.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TtlvError, decodeTtlv, type DecodeOptions } from '../../../../src/kmip/ttlv';
import { MUTATORS, nestingBomb, randomMessage, rememberTtlvHeaders, splice } from '../mutators';
import type { FuzzTarget } from '../runner';
import type { Rng } from '../rng';

interface TtlvInput {
  bytes: Buffer;
  opts: DecodeOptions | undefined;
}

/** The captured messages listed in `dir`/index.json, or [] when the directory is absent. */
export function loadCapturedMessages(dir: string): Buffer[] {
  const index = join(dir, 'index.json');
  if (!existsSync(index)) return [];
  const { messages } = JSON.parse(readFileSync(index, 'utf8')) as { messages: { file: string }[] };
  return messages.map((m) => readFileSync(join(dir, m.file)));
}

/** Deep limits now and then, so deep nesting reaches the recursion itself. */
function decodeOptions(rng: Rng): DecodeOptions | undefined {
  if (rng.chance(0.9)) return undefined;
  return { maxDepth: rng.pick([1, 8, 1024]), maxBytes: rng.pick([8, 64, 4096, 16 << 20]) };
}

export function ttlvTarget(seeds: readonly Buffer[]): FuzzTarget<TtlvInput> {
  if (seeds.length === 0) throw new Error('ttlvTarget needs at least one seed message');
  for (const seed of seeds) rememberTtlvHeaders(seed);
  // Built once: around each depth limit, and past the deepest one allowed.
  const bombs = [1, 31, 32, 33, 1023, 1024, 1025, 4096].map((depth) => nestingBomb(depth));
  return {
    generate(rng) {
      const roll = rng.int(100);
      let bytes: Buffer;
      if (roll < 5) bytes = randomMessage(rng);
      else if (roll < 6) bytes = rng.pick(bombs);
      else if (roll < 16) bytes = splice(rng.pick(seeds), rng.pick(seeds), rng);
      else {
        bytes = rng.pick(seeds);
        for (let n = rng.range(1, 3); n > 0; n--) bytes = rng.pick(MUTATORS)(bytes, rng);
      }
      return { bytes, opts: decodeOptions(rng) };
    },
    run(input) {
      decodeTtlv(input.bytes, input.opts);
      return 'accepted';
    },
    isOwnError: (err) => err instanceof TtlvError,
    describe: ({ bytes, opts }) =>
      `${bytes.length} bytes ${bytes.subarray(0, 48).toString('hex')}… opts ${JSON.stringify(opts)}`,
  };
}
