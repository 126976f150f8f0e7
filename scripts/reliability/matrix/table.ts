// The fault matrix as a table: cell, expected, observed, pass (text wrapped to columns).
import type { CellResult } from './cell';

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '';
    }
    line = line ? `${line} ${word}` : word;
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

const WIDTHS = [28, 46, 58, 5];

export function formatTable(results: CellResult[]): string {
  const rule = WIDTHS.map((w) => '-'.repeat(w)).join('-+-');
  const row = (cols: string[]) => {
    const wrapped = cols.map((c, i) => wrap(c, WIDTHS[i]!));
    const height = Math.max(...wrapped.map((w) => w.length));
    const out: string[] = [];
    for (let i = 0; i < height; i++)
      out.push(
        wrapped
          .map((w, j) => (w[i] ?? '').padEnd(WIDTHS[j]!))
          .join(' | ')
          .trimEnd(),
      );
    return out.join('\n');
  };
  const body = results.map((r) =>
    row([
      `${r.cell} (${(r.ms / 1000).toFixed(1)} s)`,
      r.expected,
      r.observed,
      r.skipped ? 'skip' : r.pass ? 'PASS' : 'FAIL',
    ]),
  );
  const passed = results.filter((r) => r.pass).length;
  return [
    row(['cell', 'expected', 'observed', 'pass']),
    rule,
    body.join(`\n${rule}\n`),
    rule,
    `${passed}/${results.length} cells pass`,
  ].join('\n');
}
