// OASIS KMIP 1.0–1.2 test cases (XML encoding, ../shared/kmip-testcases): for every
// message, XML → binary → JSON/XML → binary is byte-identical and every decoded tree
// equals the tree read from the XML.
import t from 'tap';
import {
  decodeTtlv,
  encodeTtlv,
  jsonToTtlv,
  ttlvToJson,
  ttlvToXml,
  xmlToTtlv,
  xmlToTtlvList,
} from '../../../src/kmip/ttlv';
import { haveVectors, readVector, vectorFiles, vectorVersions, vectorsDir } from './oasis-vectors';

if (!haveVectors()) {
  t.test('OASIS KMIP test cases', { skip: `not found at ${vectorsDir}` }, async () => {});
} else {
  for (const v of vectorVersions()) {
    t.test(`KMIP test cases ${v}`, async (t) => {
      const files = vectorFiles(v);
      t.ok(files.length > 0, 'has test case files');
      let messages = 0;
      const failures: string[] = [];
      for (const file of files) {
        try {
          const tree = xmlToTtlvList(readVector(v, file));
          for (const [i, msg] of tree.entries()) {
            messages++;
            const where = `${file} message ${i}`;
            const wire = encodeTtlv(msg);
            const decoded = decodeTtlv(wire);
            const viaJson = jsonToTtlv(JSON.stringify(ttlvToJson(decoded)));
            const viaXml = xmlToTtlv(ttlvToXml(decoded));
            if (!same(decoded, msg)) failures.push(`${where}: decoded tree differs from the XML`);
            if (!encodeTtlv(viaJson).equals(wire))
              failures.push(`${where}: JSON round trip differs`);
            if (!encodeTtlv(viaXml).equals(wire)) failures.push(`${where}: XML round trip differs`);
            if (!same(viaJson, msg) || !same(viaXml, msg))
              failures.push(`${where}: text tree differs`);
          }
        } catch (err) {
          failures.push(`${file}: ${(err as Error).message}`);
        }
      }
      t.same(failures, [], `all ${messages} messages of ${files.length} files round-trip`);
      t.ok(messages >= files.length * 2, 'every file has request and response messages');
    });
  }
}

/** Deep tree equality (Buffers by content, bigints by value). */
function same(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return a === b;
}
