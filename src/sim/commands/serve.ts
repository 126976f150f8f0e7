// `ekmd-sim serve`: load or create the drives in a state directory and serve them on a
// Unix socket until SIGTERM/SIGINT.
import { mkdirSync } from 'node:fs';
import pino from 'pino';
import { EXIT_OK, UsageError } from '../../util/command';
import { SimServer } from '../server';
import { lockStateDir } from '../persistence/state-lock';
import { Simulator } from '../simulator';
import { SOCKET_OPTION, intFlag, parse, socketPath } from './options';

const USAGE = `Usage: ekmd-sim serve --state DIR --socket PATH --drives N [--size MiB]
                     [--mode opal|plain] [--unprivileged] [--log-level LEVEL]

Simulates N drives (numbered from 0) whose state lives in DIR; drives already there keep
their state, as after a daemon restart on a live node. --mode plain makes new drives
plain disks (Opal ioctls answer EOPNOTSUPP); --unprivileged answers EACCES as the kernel
does to a caller without CAP_SYS_ADMIN. Prints one "serving" line when ready.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...SOCKET_OPTION,
    state: { type: 'string' },
    drives: { type: 'string' },
    size: { type: 'string' },
    mode: { type: 'string' },
    unprivileged: { type: 'boolean' },
    'log-level': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (!values.state) throw new UsageError('--state DIR is required');
  const mode = values.mode ?? 'opal';
  if (mode !== 'opal' && mode !== 'plain') throw new UsageError('--mode must be opal or plain');
  const level = values['log-level'] ?? 'info';
  if (!Object.prototype.hasOwnProperty.call(pino.levels.values, level))
    throw new UsageError(
      `--log-level must be one of ${Object.keys(pino.levels.values).join(', ')}`,
    );
  const path = socketPath(values.socket);
  const drives = intFlag('drives', values.drives, true);
  const sizeMiB = intFlag('size', values.size) ?? 64;
  const logger = pino({ name: 'ekmd-sim', level }, pino.destination(2));
  mkdirSync(values.state, { recursive: true, mode: 0o700 });
  const unlock = await lockStateDir(values.state);
  let sim: Simulator;
  try {
    sim = new Simulator({
      stateDir: values.state,
      drives,
      sizeMiB,
      mode,
      privileged: !values.unprivileged,
      logger,
    });
  } catch (err) {
    await unlock();
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
  const server = new SimServer(sim, path, logger);
  try {
    await server.listen();
  } catch (err) {
    sim.close();
    await unlock();
    throw err;
  }
  process.stdout.write(`ekmd-sim: serving ${drives} drive(s) on ${path}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.close();
  sim.close();
  await unlock();
  return EXIT_OK;
}
