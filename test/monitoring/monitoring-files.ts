// The files under monitoring/ as the tests read them, and promtool, which checks and
// evaluates the rules as Prometheus would (Debian's prometheus package; .ci/run installs it).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/paths';

export const monitoringDir = join(repoRoot, 'monitoring');
export const rulesFile = join(monitoringDir, 'ekmd.rules.yml');
export const dashboardFile = join(monitoringDir, 'ekmd-dashboard.json');
export const promtoolTestsDir = join(monitoringDir, 'tests');
export const alertsDoc = join(repoRoot, 'docs', 'ALERTS.md');

/** Where the rules' runbook links point unless install.sh is told otherwise. */
export const DEFAULT_RUNBOOK_BASE = 'file:/usr/lib/ekmd/docs';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function loadRules(file = rulesFile): AlertRule[] {
  const doc = parse(readFileSync(file, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

export interface PromtoolRun {
  status: number | null;
  output: string;
}

/**
 * Runs promtool to its end. Absent, it fails the test with what to install rather than
 * skipping: rules that are never evaluated would pass by default.
 */
export function promtool(...args: string[]): Promise<PromtoolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new Error(
              "promtool not found on PATH: install Debian's prometheus package (.ci/run does)",
            )
          : err,
      ),
    );
    child.once('close', (status) => resolve({ status, output }));
  });
}

/** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to '-'. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every heading of a Markdown file. */
export function markdownAnchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => headingAnchor(m[1]!)));
}
