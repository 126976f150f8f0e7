#!/usr/bin/env node
// ekmd's entry point. Runs the daemon (ekmd.ts) from the one-file bundle the build makes
// of it, with its code cache: a boot then reads two files and compiles little, which is
// most of what it takes node to reach the key server. Without a bundle (tsc alone), from
// the modules.
import { join } from 'node:path';
import { loadBundle } from './bundle-loader';

export const BUNDLE_FILE = 'ekmd.bundle.js';

type Program = typeof import('./ekmd');

if (require.main === module) {
  const bundle = loadBundle(join(__dirname, BUNDLE_FILE));
  const program = (bundle?.exports ?? require('./ekmd')) as Program;
  program.run(process.argv.slice(2));
}
