// The OASIS KMIP 1.0–1.2 test cases (XML encoding) in ../shared/kmip-testcases, for the
// tests that read them: where they are, and their placeholders made concrete.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '../../helpers/paths';

export const vectorsDir = join(sharedDir, 'kmip-testcases');
const NOW = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;

/** Whether the test cases are present (tests skip with a message where they are not). */
export function haveVectors(): boolean {
  return existsSync(vectorsDir);
}

/** The version folders (v1.0, v1.1, …). */
export function vectorVersions(): string[] {
  return readdirSync(vectorsDir).filter((d) => /^v\d/.test(d));
}

/** The XML files of one version folder, by name. */
export function vectorFiles(version: string): string[] {
  return readdirSync(join(vectorsDir, version)).filter((f) => f.endsWith('.xml'));
}

/** One test case file's text with its placeholders filled. */
export function readVector(version: string, file: string): string {
  return fillPlaceholders(readFileSync(join(vectorsDir, version, file), 'utf8'));
}

/** The vectors' placeholders ($NOW±n, $UNIQUE_IDENTIFIER_n in Byte Strings, …) made concrete. */
export function fillPlaceholders(xml: string): string {
  return xml
    .replace(/type="DateTime"\s+value="\$NOW([+-]\d+)?"/g, (_all, offset: string | undefined) => {
      const iso = new Date((NOW + Number(offset ?? 0)) * 1000).toISOString();
      return `type="DateTime" value="${iso.replace('.000Z', '+00:00')}"`;
    })
    .replace(
      /type="ByteString"\s+value="\$[A-Z_0-9]+"/g,
      'type="ByteString" value="0102030405060708"',
    );
}
