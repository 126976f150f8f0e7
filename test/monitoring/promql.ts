// What PromQL expressions name, and what a Prometheus text scrape holds: enough to check
// that the alert rules and the dashboard ask for metrics and labels ekmd exports.

/** Metric names and label names an expression uses. */
export interface PromqlNames {
  metrics: Set<string>;
  labels: Set<string>;
}

const AGGREGATIONS = new Set(
  'sum min max avg group stddev stdvar count count_values bottomk topk quantile'.split(' '),
);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

type Token = { kind: 'ident' | 'punct'; text: string };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      // A string: label values and such; skipped with its escapes.
      i++;
      while (i < expr.length && expr[i] !== c) i += expr[i] === '\\' && c !== '`' ? 2 : 1;
      i++;
    } else if (c === '[') {
      // A range or subquery: durations and Grafana's $__rate_interval.
      i = expr.indexOf(']', i) + 1 || expr.length;
    } else if (c === '$') {
      // A Grafana variable outside a string, e.g. $__interval.
      i++;
      while (i < expr.length && /\w/.test(expr[i]!)) i++;
    } else if (c === '#') {
      i = expr.indexOf('\n', i) + 1 || expr.length;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(?:0x[0-9a-f]+|[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?[a-z]*)/i.exec(expr.slice(i));
      i += m ? m[0].length : 1;
    } else if (/[A-Za-z_:]/.test(c)) {
      const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
    } else {
      tokens.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return tokens;
}

/** The metric names and label names of one PromQL expression. */
export function promqlNames(expr: string): PromqlNames {
  const tokens = tokenize(expr);
  const names: PromqlNames = { metrics: new Set(), labels: new Set() };
  let braces = 0;
  for (let i = 0; i < tokens.length; i++) {
    const { kind, text } = tokens[i]!;
    if (kind === 'punct') {
      if (text === '{') braces++;
      if (text === '}') braces--;
      continue;
    }
    if (braces > 0) {
      names.labels.add(text); // inside a selector only label names are bare words
      continue;
    }
    const lower = text.toLowerCase();
    if (LABEL_LISTS.has(lower)) {
      if (tokens[i + 1]?.text !== '(') continue;
      for (i += 2; i < tokens.length && tokens[i]!.text !== ')'; i++) {
        if (tokens[i]!.kind === 'ident') names.labels.add(tokens[i]!.text);
      }
      continue;
    }
    if (KEYWORDS.has(lower) || AGGREGATIONS.has(lower)) continue;
    if (tokens[i + 1]?.text === '(') continue; // a function call
    names.metrics.add(text);
  }
  return names;
}

/** One sample of a scrape: its metric name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text-format (0.0.4) scrape; comments skipped. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, e: string) => (e === 'n' ? '\n' : e));
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Label names per metric name seen in `samples`. */
export function labelsByMetric(samples: Sample[]): Map<string, Set<string>> {
  const by = new Map<string, Set<string>>();
  for (const s of samples) {
    const set = by.get(s.name) ?? new Set<string>();
    for (const k of Object.keys(s.labels)) set.add(k);
    by.set(s.name, set);
  }
  return by;
}

/** Labels Prometheus adds to every scraped series, and the series it makes per target. */
export const TARGET_LABELS = ['job', 'instance'];
export const SCRAPE_SERIES = ['up'];

/**
 * What `expr` names that `exported` (label names per metric) does not have: each problem
 * as a line. A label counts when any metric of the expression carries it.
 */
export function unknownNames(expr: string, exported: Map<string, Set<string>>): string[] {
  const { metrics, labels } = promqlNames(expr);
  const problems: string[] = [];
  const known = new Set(TARGET_LABELS);
  for (const m of metrics) {
    if (SCRAPE_SERIES.includes(m)) continue;
    const have = exported.get(m);
    if (!have) problems.push(`metric ${m} is not exported`);
    else for (const l of have) known.add(l);
  }
  for (const l of labels) {
    if (!known.has(l)) problems.push(`label ${l} is on none of ${[...metrics].join(', ')}`);
  }
  return problems;
}

/** Metric names a scrape declares (# TYPE), histograms and summaries with their series. */
export function declaredMetrics(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}
