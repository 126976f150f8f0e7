// Enumeration spellings the text encodings read: the canonical names in every version, the
// spec tables' other spellings (normalised by the Profiles' "Normalizing Names" rules) in the
// versions whose tables use them, and every spelling the OASIS test cases use.
import t from 'tap';
import {
  Tag,
  TtlvError,
  DigitalSignatureAlgorithm,
  DRBGAlgorithm,
  HashingAlgorithm,
  MaskGenerator,
  ProfileName,
  decodeTtlv,
  encodeTtlv,
  enumName,
  enumValue,
  jsonToTtlv,
  ttlvToJson,
  ttlvToXml,
  xmlToTtlv,
  xmlToTtlvList,
  type JsonItem,
  type TtlvItem,
} from '../../../src/kmip/ttlv';
import { normalizeName } from '../../../src/kmip/ttlv/normalize';
import { TABLE_SPELLINGS } from '../../../src/kmip/ttlv/spellings';
import { parseXml, type XmlElement } from '../../../src/kmip/ttlv/xml-parse';
import { haveVectors, readVector, vectorFiles, vectorVersions, vectorsDir } from './oasis-vectors';

const VERSIONS: Array<[number, number]> = [
  [1, 0],
  [1, 1],
  [1, 2],
  [1, 3],
  [1, 4],
  [2, 0],
  [2, 1],
];
const v = (major: number, minor: number) => ({ major, minor });

/** A one-item request of `version` whose payload holds `items` (JSON encoding). */
function request(version: [number, number], items: JsonItem[]): JsonItem {
  return {
    tag: 'RequestMessage',
    value: [
      {
        tag: 'RequestHeader',
        value: [
          {
            tag: 'ProtocolVersion',
            value: [
              { tag: 'ProtocolVersionMajor', type: 'Integer', value: version[0] },
              { tag: 'ProtocolVersionMinor', type: 'Integer', value: version[1] },
            ],
          },
          { tag: 'BatchCount', type: 'Integer', value: 1 },
        ],
      },
      {
        tag: 'BatchItem',
        value: [
          { tag: 'Operation', type: 'Enumeration', value: 'Locate' },
          { tag: 'RequestPayload', value: items },
        ],
      },
    ],
  };
}

const enumeration = (tag: string, value: string): JsonItem => ({
  tag,
  type: 'Enumeration',
  value,
});

/** The payload items of a message tree, and of its JSON form. */
function payload(msg: TtlvItem): TtlvItem[] {
  const item = (msg.value as TtlvItem[])[1]!;
  return (item.value as TtlvItem[])[1]!.value as TtlvItem[];
}
function jsonPayload(msg: JsonItem): JsonItem[] {
  const item = (msg.value as JsonItem[])[1]!;
  return (item.value as JsonItem[])[1]!.value as JsonItem[];
}

/** Read `spelling` of `tag` in a message of `version`: the value, and the name decode prints. */
function readBack(version: [number, number], tag: string, spelling: string) {
  const msg = jsonToTtlv(request(version, [enumeration(tag, spelling)]));
  const printed = jsonPayload(ttlvToJson(decodeTtlv(encodeTtlv(msg))))[0]!.value;
  return { value: payload(msg)[0]!.value, printed };
}

/** The error reading `spelling` of `tag` in a message of `version` raises. */
function refusal(version: [number, number], tag: string, spelling: string): string {
  try {
    jsonToTtlv(request(version, [enumeration(tag, spelling)]));
  } catch (err) {
    if (err instanceof TtlvError) return err.message;
    throw err;
  }
  return 'accepted';
}

t.test('normalizeName follows the Profiles’ "Normalizing Names" rules', async (t) => {
  const cases: Array<[string, string]> = [
    ['Structure', 'Structure'],
    ['Date-Time', 'DateTime'],
    ['Pre-Active', 'PreActive'],
    ['Private Key Template-Attribute', 'PrivateKeyTemplateAttribute'],
    ['IV/Counter/Nonce', 'IVCounterNonce'],
    ['X.509 Certificate Identifier', 'X_509CertificateIdentifier'],
    ['EC Public Key Type X9.62 Compressed Prime', 'ECPublicKeyTypeX9_62CompressedPrime'],
    ['PKCS#8', 'PKCS_8'],
    ['Encrypt then MAC/sign', 'EncryptThenMACSign'],
    ['P-384', 'P_384'],
    ['MD2 with RSA Encryption (PKCS#1 v1.5)', 'MD2WithRSAEncryptionPKCS_1V1_5'],
    ['SHA-1 with RSA Encryption (PKCS#1 v1.5)', 'SHA_1WithRSAEncryptionPKCS_1V1_5'],
    ['SHA-1 with RSA Encryption', 'SHA_1WithRSAEncryption'],
    ['RSASSA-PSS (PKCS#1 v2.1)', 'RSASSA_PSSPKCS_1V2_1'],
    ['Num42bers in first word', 'Num42bersInFirstWord'],
    ['Polynomial Sharing GF (2^16)', 'PolynomialSharingGF2_16'],
    ['3DES', 'DES3'],
    ['GOST R 34.10-2012', 'GOSTR34_10_2012'],
    ['GP x-Change Notice', 'GPXChangeNotice'],
    ['Cessation of Operation', 'CessationOfOperation'],
    ['SHA-512/224', 'SHA_512_224'],
    ['SHA-3-224', 'SHA_3_224'],
    ['Dual-EC', 'Dual_EC'],
    ['Suite B minLOS_128 Client KMIP v1.0', 'SuiteBMinLOS_128ClientKMIPV1_0'],
  ];
  for (const [text, name] of cases) t.equal(normalizeName(text), name, text);
});

/** The tag(s) each enumeration with table spellings is read under. */
const TAGS = new Map<Readonly<Record<string, number>>, number[]>([
  [DigitalSignatureAlgorithm, [Tag.DigitalSignatureAlgorithm]],
  [HashingAlgorithm, [Tag.HashingAlgorithm, Tag.MaskGeneratorHashingAlgorithm]],
  [MaskGenerator, [Tag.MaskGenerator]],
  [DRBGAlgorithm, [Tag.DRBGAlgorithm]],
  [ProfileName, [Tag.ProfileName]],
]);

t.test('every table spelling reads in its versions only, and prints canonically', async (t) => {
  let count = 0;
  for (const [names, spellings] of TABLE_SPELLINGS) {
    const tags = TAGS.get(names);
    if (!tags) {
      t.fail(`no tag known for the enumeration of ${spellings[0]?.text}`);
      continue;
    }
    const canonical = new Set(Object.keys(names));
    const seen = new Set<string>();
    for (const s of spellings) {
      count++;
      const name = normalizeName(s.text);
      t.notOk(canonical.has(name), `${s.text}: not already the canonical name`);
      t.notOk(seen.has(name), `${s.text}: listed once`);
      seen.add(name);
      t.ok(Object.values(names).includes(s.value), `${s.text}: a value of the enumeration`);
      t.ok(10 <= s.from && s.from <= s.to && s.to <= 21, `${s.text}: versions in 1.0-2.1`);
      for (const tag of tags) {
        for (const [major, minor] of VERSIONS) {
          const ver = major * 10 + minor;
          const inRange = s.from <= ver && ver <= s.to;
          const defined = enumName(tag, s.value, v(major, minor));
          const read = enumValue(tag, name, v(major, minor));
          if (inRange && defined) {
            if (read !== s.value) t.fail(`${name} not read in ${major}.${minor}`);
          } else if (read !== undefined) {
            t.fail(`${name} read in ${major}.${minor}`);
          }
          if (defined && enumValue(tag, defined, v(major, minor)) !== s.value)
            t.fail(`canonical ${defined} not read in ${major}.${minor}`);
        }
      }
    }
  }
  t.equal(count, 34, '34 table spellings besides the canonical names');
});

t.test('Mask Generator: MGF1 in every version that has it, MFG1 from 2.0', async (t) => {
  t.same(readBack([1, 4], 'MaskGenerator', 'MGF1'), { value: MaskGenerator.MGF1, printed: 'MGF1' });
  t.match(
    refusal([1, 4], 'MaskGenerator', 'MFG1'),
    /\/MaskGenerator: a KMIP 2\.0-2\.1 spelling, not used in 1\.4: write MGF1 \(got "MFG1"\)/,
    'the 2.x tables’ MFG1 is refused in a 1.4 message, naming the 1.4 spelling',
  );
  for (const version of [
    [2, 0],
    [2, 1],
  ] as Array<[number, number]>) {
    const at = version.join('.');
    t.same(readBack(version, 'MaskGenerator', 'MFG1'), { value: 1, printed: 'MGF1' }, `MFG1 ${at}`);
    t.same(readBack(version, 'MaskGenerator', 'MGF1'), { value: 1, printed: 'MGF1' }, `MGF1 ${at}`);
  }
  // The OASIS 2.0 test cases (CS-AC-M-OAEP-*-20) write MGF1 in XML; the 2.1 table MFG1.
  const xml = (minor: number, spelling: string) =>
    `<RequestMessage><RequestHeader><ProtocolVersion>` +
    `<ProtocolVersionMajor type="Integer" value="2"/>` +
    `<ProtocolVersionMinor type="Integer" value="${minor}"/></ProtocolVersion>` +
    `<BatchCount type="Integer" value="1"/></RequestHeader><BatchItem>` +
    `<Operation type="Enumeration" value="Encrypt"/><RequestPayload><CryptographicParameters>` +
    `<MaskGenerator type="Enumeration" value="${spelling}"/>` +
    `</CryptographicParameters></RequestPayload></BatchItem></RequestMessage>`;
  for (const [minor, spelling] of [
    [0, 'MGF1'],
    [1, 'MFG1'],
  ] as Array<[number, string]>) {
    const printed = ttlvToXml(decodeTtlv(encodeTtlv(xmlToTtlv(xml(minor, spelling)))));
    t.match(printed, /<MaskGenerator type="Enumeration" value="MGF1"\/>/, `2.${minor} ${spelling}`);
  }
  t.equal(enumValue(Tag.MaskGenerator, 'MFG1', v(1, 4)), undefined);
  t.equal(enumValue(Tag.MaskGenerator, 'MFG1', v(2, 0)), 1);
  t.equal(enumName(Tag.MaskGenerator, 1, v(2, 1)), 'MGF1', 'one canonical name printed');
});

t.test('Digital Signature Algorithm: the 1.x tables’ full names, short names always', async (t) => {
  const full: Array<[string, number, string]> = [
    ['MD2WithRSAEncryptionPKCS_1V1_5', 1, 'MD2WithRSAEncryption'],
    ['MD5WithRSAEncryptionPKCS_1V1_5', 2, 'MD5WithRSAEncryption'],
    ['SHA_1WithRSAEncryptionPKCS_1V1_5', 3, 'SHA_1WithRSAEncryption'],
    ['SHA_224WithRSAEncryptionPKCS_1V1_5', 4, 'SHA_224WithRSAEncryption'],
    ['SHA_256WithRSAEncryptionPKCS_1V1_5', 5, 'SHA_256WithRSAEncryption'],
    ['SHA_384WithRSAEncryptionPKCS_1V1_5', 6, 'SHA_384WithRSAEncryption'],
    ['SHA_512WithRSAEncryptionPKCS_1V1_5', 7, 'SHA_512WithRSAEncryption'],
    ['RSASSA_PSSPKCS_1V2_1', 8, 'RSASSA_PSS'],
  ];
  for (const [spelling, value, short] of full) {
    for (const version of [
      [1, 1],
      [1, 2],
      [1, 3],
      [1, 4],
    ] as Array<[number, number]>) {
      const at = `${spelling} in ${version.join('.')}`;
      t.same(
        readBack(version, 'DigitalSignatureAlgorithm', spelling),
        { value, printed: short },
        at,
      );
    }
    for (const version of [
      [2, 0],
      [2, 1],
    ] as Array<[number, number]>) {
      t.match(
        refusal(version, 'DigitalSignatureAlgorithm', spelling),
        new RegExp(
          `a KMIP 1\\.1-1\\.4 spelling, not used in ${version.join('\\.')}: write ${short}`,
        ),
        `${spelling} refused in ${version.join('.')}`,
      );
    }
    for (const version of VERSIONS.slice(1)) {
      t.same(
        readBack(version, 'DigitalSignatureAlgorithm', short),
        { value, printed: short },
        `${short} in ${version.join('.')}`,
      );
    }
  }
  // In 1.x an Attribute Value takes the spellings of the enumeration its Attribute Name names.
  const msg = jsonToTtlv(
    request(
      [1, 2],
      [
        {
          tag: 'Attribute',
          value: [
            { tag: 'AttributeName', type: 'TextString', value: 'Digital Signature Algorithm' },
            enumeration('AttributeValue', 'SHA_256WithRSAEncryptionPKCS_1V1_5'),
          ],
        },
      ],
    ),
  );
  const attr = payload(msg)[0]!.value as TtlvItem[];
  t.equal(attr[1]!.value, DigitalSignatureAlgorithm.SHA_256WithRSAEncryption);
  t.match(ttlvToXml(msg), /<AttributeValue type="Enumeration" value="SHA_256WithRSAEncryption"\/>/);
});

t.test('Hashing Algorithm: the 1.4 table’s SHA-3-x names in 1.4 only', async (t) => {
  t.same(readBack([1, 4], 'HashingAlgorithm', 'SHA_3_256'), { value: 0xf, printed: 'SHA3_256' });
  t.same(readBack([1, 4], 'MaskGeneratorHashingAlgorithm', 'SHA_3_512'), {
    value: 0x11,
    printed: 'SHA3_512',
  });
  t.same(readBack([1, 4], 'HashingAlgorithm', 'SHA3_256'), { value: 0xf, printed: 'SHA3_256' });
  t.match(refusal([2, 0], 'HashingAlgorithm', 'SHA_3_256'), /a KMIP 1\.4 spelling.*write SHA3_256/);
  t.match(refusal([1, 4], 'HashingAlgorithm', 'SHA_3_999'), /unknown enumeration name/);
});

/** [element name, value] of every Enumeration element under `el`, in document order. */
function enumerationElements(el: XmlElement, out: Array<[string, string]> = []) {
  if (el.attrs.get('type') === 'Enumeration') out.push([el.name, el.attrs.get('value') ?? '']);
  for (const child of el.children) enumerationElements(child, out);
  return out;
}

if (!haveVectors()) {
  t.test('OASIS test case spellings', { skip: `not found at ${vectorsDir}` }, async () => {});
} else {
  t.test(
    'every enumeration the OASIS test cases spell reads and prints back as written',
    async (t) => {
      const spellings = new Set<string>();
      const failures: string[] = [];
      for (const version of vectorVersions()) {
        for (const file of vectorFiles(version)) {
          const xml = readVector(version, file);
          const written = enumerationElements(parseXml(xml));
          const printed = xmlToTtlvList(xml).flatMap((msg) =>
            enumerationElements(parseXml(ttlvToXml(decodeTtlv(encodeTtlv(msg))))),
          );
          if (printed.length !== written.length)
            failures.push(`${file}: enumeration count differs`);
          written.forEach(([element, spelling], i) => {
            if (/^0x/i.test(spelling)) return; // an unnamed (extension) value, written in hex
            spellings.add(`${element}=${spelling}`);
            const back = printed[i]?.[1];
            if (back !== spelling)
              failures.push(`${file}: ${element} ${spelling} printed as ${back}`);
          });
        }
      }
      t.same(failures, [], 'each spelling is the canonical name decode prints');
      t.ok(spellings.size >= 100, `${spellings.size} distinct tag/spelling pairs checked`);
    },
  );
}
