// Fault injection for the dev key server, so tests in other processes can make a key
// server misbehave the ways real ones do, over loopback.
import { ResultReason } from '../ttlv';

export type Fault =
  | { kind: 'none' }
  /** Close new connections at once. */
  | { kind: 'refuse' }
  /** Accept connections and never answer: no handshake, no responses (a black hole). */
  | { kind: 'stall' }
  /** Answer after a delay. */
  | { kind: 'delay'; ms: number }
  /** Fail every operation with this Result Reason. */
  | { kind: 'reason'; reason: number; name: string }
  /** Answer with bytes that are not TTLV. */
  | { kind: 'garbage' };

/**
 * Parse an inject command: refuse | stall | delay MS | drop | reason NAME | garbage | clear.
 * `drop` (close the open connections now) is an action, not a lasting fault.
 */
export function parseFault(words: string[]): Fault | 'drop' {
  const [cmd, arg, ...extra] = words;
  const usage = (msg: string): never => {
    throw new Error(msg);
  };
  const noArg = (f: Fault | 'drop'): Fault | 'drop' =>
    arg === undefined ? f : usage(`${cmd} takes no argument`);
  if (extra.length) usage('too many arguments');
  switch (cmd) {
    case 'refuse':
      return noArg({ kind: 'refuse' });
    case 'stall':
      return noArg({ kind: 'stall' });
    case 'drop':
      return noArg('drop');
    case 'garbage':
      return noArg({ kind: 'garbage' });
    case 'clear':
      return noArg({ kind: 'none' });
    case 'delay': {
      const ms = Number(arg);
      if (!arg || !Number.isInteger(ms) || ms < 0 || ms > 600_000) {
        usage('delay needs milliseconds from 0 to 600000');
      }
      return { kind: 'delay', ms };
    }
    case 'reason': {
      const table = ResultReason as Record<string, number>;
      const reason = arg !== undefined && Object.hasOwn(table, arg) ? table[arg] : undefined;
      if (reason === undefined) {
        usage(`reason needs a Result Reason name, e.g. ItemNotFound, PermissionDenied`);
      }
      return { kind: 'reason', reason: reason!, name: arg! };
    }
    default:
      return usage(
        `unknown fault ${JSON.stringify(cmd ?? '')}: refuse|stall|delay MS|drop|reason NAME|garbage|clear`,
      );
  }
}
