// Human output: aligned tables and "field: value" blocks; --json prints the API's own
// objects so that scripts see Element's member names.
export type Cell = string | number | boolean | null | undefined;

export function table(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...text.map(line)].join('\n') + '\n';
}

export function fields(pairs: [string, Cell | Cell[]][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return (
    pairs
      .map(
        ([k, v]) =>
          `${(k + ':').padEnd(width + 1)}  ${Array.isArray(v) ? v.map(cell).join(', ') || '-' : cell(v)}`,
      )
      .join('\n') + '\n'
  );
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

function cell(v: Cell): string {
  if (v === null || v === undefined || v === '') return '-';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}
