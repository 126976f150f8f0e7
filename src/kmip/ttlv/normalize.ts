// The KMIP Profiles' "Normalizing Names" rules (XML and JSON encodings): how the text
// encodings spell a tag, type or enumeration value, built from the text in the spec's tables.

/**
 * The text encodings' spelling of spec table text: "SHA-1 with RSA Encryption (PKCS#1 v1.5)"
 * → "SHA_1WithRSAEncryptionPKCS_1V1_5", "3DES" → "DES3", "Pre-Active" → "PreActive".
 */
export function normalizeName(text: string): string {
  // 1. Round brackets become spaces.
  let s = text.replace(/[()]/g, ' ');
  // 2. A non-word character before a letter and a lower-case letter starts a word: a space.
  s = s.replace(/\W([A-Za-z][a-z])/g, ' $1');
  // 3. Every other non-word character but a space becomes an underscore.
  s = s.replace(/[^\w ]/g, '_');
  const words = s.split(' ');
  // 4. Digits that begin the first word move to its end.
  words[0] = words[0]!.replace(/^(\d+)(.*)$/, '$2$1');
  // 5. Each word's first letter upper case (the rest as written); 6. no spaces.
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}
