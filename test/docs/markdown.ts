// Just enough Markdown for the docs tests: the pages, their headings as GitHub anchors,
// their links and their tables. Fenced code blocks and inline code are not prose: links and
// tables inside them are ignored.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths';

export const docsDir = join(repoRoot, 'docs');

/** README.md and every page in docs/, as absolute paths. */
export function docPages(): string[] {
  const pages = readdirSync(docsDir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(docsDir, f));
  return [join(repoRoot, 'README.md'), ...pages];
}

export function readPage(path: string): string {
  return readFileSync(path, 'utf8');
}

/** The page's lines outside fenced code blocks (``` or ~~~), others blanked. */
export function proseLines(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      const marker = m[1]!;
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      return '';
    }
    return fence === undefined ? line : '';
  });
}

/** The contents of the fenced code blocks with this info string (e.g. "sh"). */
export function fencedBlocks(text: string, info: string): string[] {
  const blocks: string[] = [];
  const re = /^```([^\n`]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1]!.trim() === info) blocks.push(m[2]!.trimEnd());
  }
  return blocks;
}

const withoutInlineCode = (line: string): string => line.replace(/(`+)[\s\S]*?\1/g, '');

/** GitHub's anchor for a heading's text (before de-duplication). */
export function githubSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor the page's headings make, duplicates numbered as GitHub numbers them. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of proseLines(text)) {
    const m = /^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = githubSlug(m[1]!);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Link targets of the page: inline links and images, and reference definitions. */
export function links(text: string): string[] {
  const out: string[] = [];
  for (const raw of proseLines(text)) {
    const def = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(raw);
    if (def) {
      out.push(def[1]!);
      continue;
    }
    const line = withoutInlineCode(raw);
    const re = /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
    for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1]!);
  }
  return out;
}

/** True for a link that leaves the repository (a scheme such as https:, or //host). */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

export interface Table {
  header: string[];
  rows: string[][];
}

/** The page's pipe tables: header cells, then each row's cells, trimmed. */
export function tables(text: string): Table[] {
  const out: Table[] = [];
  let current: string[][] = [];
  const flush = () => {
    // A table is a header, a |---| delimiter row and its rows.
    if (current.length >= 2 && current[1]!.every((c) => /^:?-{3,}:?$/.test(c))) {
      out.push({ header: current[0]!, rows: current.slice(2) });
    }
    current = [];
  };
  for (const line of proseLines(text)) {
    if (/^\s*\|/.test(line)) current.push(cells(line));
    else flush();
  }
  flush();
  return out;
}

function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split('|').map((c) => c.trim());
}

/** The tables whose first header cell is `first` (case-insensitive). */
export function tablesHeaded(text: string, first: string): Table[] {
  return tables(text).filter((t) => t.header[0]?.toLowerCase() === first.toLowerCase());
}

/** The column of `name` in a table's header (case-insensitive); throws when absent. */
export function column(table: Table, name: string): number {
  const i = table.header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
  if (i < 0) throw new Error(`no column "${name}" in table | ${table.header.join(' | ')} |`);
  return i;
}

/** `name` when the cell is exactly one code span holding it, else undefined. */
export function codeCell(cell: string | undefined, pattern = /^[^`]+$/): string | undefined {
  const m = /^`([^`]+)`$/.exec(cell ?? '');
  return m && pattern.test(m[1]!) ? m[1] : undefined;
}

/** Every code span's text in a cell. */
export function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** The text of a level-2 section (from its heading to the next level-2 heading). */
export function section(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}
