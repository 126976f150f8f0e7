// Keeps key-plan.json (key-plan.ts) true to the records it is made of: rewritten after
// every unlock round and, between rounds, a moment after any of its records changed (EAR
// enabled, a drive secured or moved, a key server or the key pair replaced, a TryLimit
// guard armed or released, the drive-access key split again, a peer's link moved to
// another port at its restart), so that the next start's early unlock is not stale. Written
// only when its content changed; removed when nothing is to be unlocked.
import type { Logger } from 'pino';
import type { Store, StoreChange } from '../../store/store';
import { DRIVE_PREFIX } from '../drives/drive-records';
import { KEY_PAIR_KEY } from '../key-pair';
import { KEY_REFERENCE_PREFIX } from '../key-references';
import { SERVER_PREFIX } from '../key-servers/kmip-records';
import { KMIP_VERSIONS_PREFIX } from '../key-servers/kmip-versions';
import { ACTIVE_NODE_PREFIX } from '../nodes/node-records';
import { SHARE_PREFIX, SPLIT_KEY_STATE_KEY } from '../split-key/split-key-records';
import { keyPlanText, readKeyPlanText, writeKeyPlan, type KeyPlan } from './key-plan';
import { GUARD_PREFIX } from './try-guard';

/** What a plan is made of: a change to any of these rewrites it, PLAN_DELAY_MS later. */
const PLAN_SOURCES = [
  DRIVE_PREFIX,
  KEY_REFERENCE_PREFIX,
  SERVER_PREFIX,
  KMIP_VERSIONS_PREFIX,
  KEY_PAIR_KEY,
  'ear/',
  GUARD_PREFIX,
  SPLIT_KEY_STATE_KEY,
  SHARE_PREFIX,
  ACTIVE_NODE_PREFIX,
];
const PLAN_DELAY_MS = 1000;

export class KeyPlanKeeper {
  /** The file's content as last read or written. */
  private text: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly deps: {
      store: Store;
      dir: string;
      /** The plan as the records are now (none when hardware EAR is not enabled). */
      plan: () => KeyPlan | undefined;
      logger?: Logger;
    },
  ) {}

  /** The file's content as the early unlock read it (saves reading it again). */
  rememberFileText(text: string): void {
    this.text ??= text;
  }

  /**
   * Rewrites the plan a moment after its records change (one rewrite per burst); at once
   * when a drive starts being erased, before its revert is sent: a start that follows a
   * crash then must not ask for, or try, the key on its way out.
   */
  rewriteAfterChanges(): void {
    if (this.unwatch) return;
    const rewriteSoon = (change: StoreChange) => {
      if (change.type === 'put' && isErasing(change)) return this.writeIfChanged();
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.writeIfChanged();
      }, PLAN_DELAY_MS).unref();
    };
    const offs = PLAN_SOURCES.map((prefix) => this.deps.store.watch(prefix, rewriteSoon));
    this.unwatch = () => offs.forEach((off) => off());
  }

  /**
   * Writes the plan if it changed. A cache: a failure is logged and costs the next start
   * only its head start.
   */
  writeIfChanged(): void {
    const { dir, logger } = this.deps;
    try {
      const plan = this.deps.plan();
      const text = keyPlanText(plan);
      this.text ??= readKeyPlanText(dir);
      if (text === this.text) return;
      writeKeyPlan(dir, plan);
      this.text = text;
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, 'could not keep the key plan');
    }
  }

  close(): void {
    this.unwatch?.();
    if (this.timer) clearTimeout(this.timer);
  }
}

const isErasing = (change: StoreChange & { type: 'put' }): boolean =>
  change.key.startsWith(DRIVE_PREFIX) && (change.value as { step?: unknown }).step === 'erasing';
