// A crash must not write the drives' authentication keys, the master key or the cluster's
// private key into a core file. The unit sets LimitCORE=0 from exec on; this covers ekmd
// started any other way: the process is made non-dumpable (no core file whatever the
// limit or core_pattern, and other processes of its user can neither ptrace it nor read
// its /proc/PID/mem) and its core size limit is set to 0.
import koffi from 'koffi';

const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;
const RLIMIT_CORE = 4;

export interface CoreDumpState {
  /** prctl(PR_GET_DUMPABLE) afterwards: 0 when no core can be written. */
  dumpable: number;
  /** errno of setrlimit(RLIMIT_CORE, 0) when it failed (a seccomp filter may refuse it). */
  limitErrno?: number;
}

type Prctl = (option: number, a2: number, a3: number, a4: number, a5: number) => number;
type Setrlimit = (resource: number, limit: { cur: bigint; max: bigint }) => number;

let bound: { prctl: Prctl; setrlimit: Setrlimit } | undefined;

function bind(): { prctl: Prctl; setrlimit: Setrlimit } {
  if (bound) return bound;
  const lib = koffi.load('libc.so.6');
  const rlimit = koffi.struct('ekmd_rlimit', { cur: 'uint64_t', max: 'uint64_t' });
  bound = {
    prctl: lib.func(
      'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
    ) as Prctl,
    setrlimit: lib.func('setrlimit', 'int', ['int', koffi.pointer(rlimit)]) as Setrlimit,
  };
  return bound;
}

export function forbidCoreDumps(): CoreDumpState {
  const { prctl, setrlimit } = bind();
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  const dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  const limited = setrlimit(RLIMIT_CORE, { cur: 0n, max: 0n }) === 0;
  return limited ? { dumpable } : { dumpable, limitErrno: koffi.errno() };
}
