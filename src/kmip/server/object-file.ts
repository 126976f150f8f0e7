// The dev key server's objects, kept in one JSON file (0600) written atomically (temp file,
// fsync, rename, fsync of the directory) so a kill -9 leaves the old or the new version.
// Key material is stored UNSEALED in this file: a development tool, never production.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectAttributes } from '../messages';
import { writeFileAtomic } from '../../util/atomic-file';

export interface StoredObject {
  uid: string;
  /** Subject CN of the client certificate that created it. */
  owner: string;
  objectType: number;
  keyFormatType: number;
  state: number;
  secretDataType?: number;
  attributes: ObjectAttributes;
  /** Hex; absent once destroyed. */
  material?: string;
}

interface FileShape {
  nextId: number;
  objects: StoredObject[];
}

export const OBJECT_FILE = 'objects.json';

export class ObjectFile {
  private readonly path: string;
  private nextId = 1;
  readonly objects = new Map<string, StoredObject>();

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, OBJECT_FILE);
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const parsed = JSON.parse(text) as FileShape;
    if (!Number.isInteger(parsed.nextId) || !Array.isArray(parsed.objects)) {
      throw new Error(`${this.path} is not a dev key server object file`);
    }
    this.nextId = parsed.nextId;
    for (const o of parsed.objects) {
      for (const k of ['initialDate', 'activationDate', 'deactivationDate'] as const) {
        if (o.attributes[k]) o.attributes[k] = new Date(o.attributes[k]);
      }
      this.objects.set(o.uid, o);
    }
  }

  newUid(): string {
    return String(this.nextId++);
  }

  /** Write every object atomically. */
  save(): void {
    const body = JSON.stringify({ nextId: this.nextId, objects: [...this.objects.values()] });
    writeFileAtomic(this.path, body, 0o600);
  }
}
