// Runs one hardware-EAR command in a node process (fixtures/ear-process) that kills itself
// at the named crash point (EKMD_TEST_HOOKS), as kill -9 would.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { EarNode } from '../cluster/hardware-ear/ear-node';

const fixture = join(__dirname, 'fixtures', 'ear-process.js');

export function runUntilCrash(node: EarNode, command: string, point: string, args: string[] = []) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      const child = spawn(process.execPath, [fixture, node.dir, node.socket, command, ...args], {
        env: { ...process.env, EKMD_TEST_HOOKS: `crash:${point}` },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
    },
  );
}
