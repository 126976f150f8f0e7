// `ekmctl async get|list`: GetAsyncResult and ListAsyncResults.
import { EXIT_OK } from '../../util/command';
import { idArg, runGroup, type Subcommand } from './subcommand';
import { fields, json, table } from '../client/output';
import type { AsyncResult } from '../client/wait';

interface AsyncListEntry {
  asyncResultID: number;
  resultType: string;
  completed: boolean;
  success: boolean;
  createTime: string;
  lastUpdateTime: string;
}

const get: Subcommand = {
  summary: 'show an async result; a completed one is released unless --keep (GetAsyncResult)',
  args: ['HANDLE'],
  flags: {
    keep: { type: 'boolean', help: '--keep           keep a completed result for later queries' },
  },
  async run(ctx) {
    const r = await ctx.api().call<AsyncResult>('GetAsyncResult', {
      asyncHandle: idArg(ctx.args[0], 'async handle'),
      keepResult: ctx.bool('keep'),
    });
    ctx.out(
      ctx.json
        ? json(r)
        : fields([
            ['type', r.resultType],
            ['status', r.status],
            ['created', r.createTime as string],
            ['updated', r.lastUpdateTime as string],
            ...(r.error
              ? [['error', `${r.error.name}: ${r.error.message}`] as [string, string]]
              : []),
            ...(r.result !== undefined
              ? [['result', JSON.stringify(r.result)] as [string, string]]
              : []),
            ...(r.details !== undefined
              ? [['details', JSON.stringify(r.details)] as [string, string]]
              : []),
          ]),
    );
    return EXIT_OK;
  },
};

const list: Subcommand = {
  summary: 'list async results, running and completed (ListAsyncResults)',
  flags: {
    type: {
      type: 'string',
      multiple: true,
      help: '--type T         only results of type T (repeatable), e.g. DriveAdd',
    },
  },
  async run(ctx) {
    const types = ctx.strings('type');
    const { asyncHandles } = await ctx
      .api()
      .call<{ asyncHandles: AsyncListEntry[] }>(
        'ListAsyncResults',
        types.length ? { asyncResultTypes: types } : {},
      );
    ctx.out(
      ctx.json
        ? json(asyncHandles)
        : table(
            ['HANDLE', 'TYPE', 'COMPLETED', 'SUCCESS', 'CREATED', 'UPDATED'],
            asyncHandles.map((a) => [
              a.asyncResultID,
              a.resultType,
              a.completed,
              a.completed ? a.success : '',
              a.createTime,
              a.lastUpdateTime,
            ]),
          ),
    );
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup('async', 'Results of asynchronous work (drive add and removal).', { get, list }, argv);
