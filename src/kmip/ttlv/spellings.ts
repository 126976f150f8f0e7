// Enumeration spellings besides the canonical names of enums.ts: the text of the KMIP
// specifications' tables where its normalised form (normalizeName) is not the canonical name,
// with the versions whose tables spell a value so. The canonical names are what decoders print
// and what the OASIS test cases use; these are read too, in messages of those versions only.
//
// Checked against the enumeration tables of KMIP 1.2, 1.3, 1.4, 2.0 and 2.1. Versions are
// major*10+minor, both ends included. Where a value is older than 1.2 (Digital Signature
// Algorithm is 1.1), its 1.2 text is taken for the older tables too: 1.x tables only grew.
import * as E from './enums';
import { normalizeName } from './normalize';

export interface TableSpelling {
  /** The table's text, as printed in the specification. */
  text: string;
  value: number;
  /** First and last KMIP version whose table spells the value so. */
  from: number;
  to: number;
}

type Names = Readonly<Record<string, number>>;

const spelled = (from: number, to: number, value: number, text: string): TableSpelling => ({
  text,
  value,
  from,
  to,
});

/** Suite B profile names as the 1.3/1.4 tables write them ("minLOS", not "Minlos"). */
function suiteB(): TableSpelling[] {
  const out: TableSpelling[] = [];
  const roles = ['128 Client', '128 Server', '192 Client', '192 Server'];
  // 0x31-0x3C: each role for KMIP v1.0, v1.1, v1.2, in both the 1.3 and the 1.4 table.
  roles.forEach((role, i) => {
    for (let minor = 0; minor <= 2; minor++) {
      out.push(spelled(13, 14, 0x31 + i * 3 + minor, `Suite B minLOS_${role} KMIP v1.${minor}`));
    }
    out.push(spelled(13, 14, 0x6d + i, `Suite B minLOS_${role} KMIP v1.3`));
    out.push(spelled(14, 14, 0x91 + i, `Suite B minLOS_${role} KMIP v1.4`));
  });
  return out;
}

/** Keyed by the enumeration object, so tags sharing one (Mask Generator Hashing Algorithm) share these. */
export const TABLE_SPELLINGS: ReadonlyMap<Names, readonly TableSpelling[]> = new Map<
  Names,
  TableSpelling[]
>([
  [
    // 1.x tables name the RSA schemes with their PKCS#1 version; 2.x tables do not.
    E.DigitalSignatureAlgorithm,
    [
      spelled(11, 14, 0x1, 'MD2 with RSA Encryption (PKCS#1 v1.5)'),
      spelled(11, 14, 0x2, 'MD5 with RSA Encryption (PKCS#1 v1.5)'),
      spelled(11, 14, 0x3, 'SHA-1 with RSA Encryption (PKCS#1 v1.5)'),
      spelled(11, 14, 0x4, 'SHA-224 with RSA Encryption (PKCS#1 v1.5)'),
      spelled(11, 14, 0x5, 'SHA-256 with RSA Encryption (PKCS#1 v1.5)'),
      spelled(11, 14, 0x6, 'SHA-384 with RSA Encryption (PKCS#1 v1.5)'),
      spelled(11, 14, 0x7, 'SHA-512 with RSA Encryption (PKCS#1 v1.5)'),
      spelled(11, 14, 0x8, 'RSASSA-PSS (PKCS#1 v2.1)'),
    ],
  ],
  [
    // 1.4 wrote "SHA-3-224"; 2.0 on write "SHA3-224" (the canonical SHA3_224).
    E.HashingAlgorithm,
    [
      spelled(14, 14, 0xe, 'SHA-3-224'),
      spelled(14, 14, 0xf, 'SHA-3-256'),
      spelled(14, 14, 0x10, 'SHA-3-384'),
      spelled(14, 14, 0x11, 'SHA-3-512'),
    ],
  ],
  // 1.4 and the OASIS 2.0 test cases write MGF1; the 2.0 and 2.1 tables write MFG1.
  [E.MaskGenerator, [spelled(20, 21, 0x1, 'MFG1')]],
  [E.DRBGAlgorithm, [spelled(13, 21, 0x2, 'Dual-EC')]],
  [E.ProfileName, suiteB()],
]);

export interface SpellingEntry {
  value: number;
  from: number;
  to: number;
}

/** The normalised table spellings of one enumeration, by spelling. */
export function spellingsOf(names: Names): Map<string, SpellingEntry> {
  const out = new Map<string, SpellingEntry>();
  for (const s of TABLE_SPELLINGS.get(names) ?? []) {
    out.set(normalizeName(s.text), { value: s.value, from: s.from, to: s.to });
  }
  return out;
}
