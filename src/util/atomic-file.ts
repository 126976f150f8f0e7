// Atomic replace of a small file: write a temp file, fsync it, rename over the target,
// fsync the directory. A kill -9 or power loss leaves either the old or the new content.
// `durable: false` skips the fsyncs for state that a power loss may drop anyway.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileAtomic(
  path: string,
  data: Buffer | string,
  mode = 0o600,
  durable = true,
): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (durable) fsyncDir(dirname(path));
}

/** Makes a rename or link in `dir` durable: the directory's entry is synced too. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
