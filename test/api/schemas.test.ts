// Parameter schemas compile on a method's first call (boot stays lean); this compiles every
// one now, so a broken schema fails here rather than on a node when first called.
import t from 'tap';
import Ajv from 'ajv';
import { builtInMethods } from '../../src/api';
import { HostileApiNode } from '../../scripts/reliability/fuzz/targets/api-node';

t.test('every API method schema compiles under strict ajv', async (t) => {
  const methods = [...builtInMethods, ...HostileApiNode.extraMethods()];
  t.ok(methods.length >= 30, `${methods.length} methods`);
  const ajv = new Ajv({ allErrors: false, strict: true });
  for (const m of methods) {
    t.doesNotThrow(() => ajv.compile(m.params), m.name);
  }
});
