// The fault matrix: every cell, in the order the table prints them.
import type { Cell } from './cell';
import { eksDownAtBoot, eksDownMidRun, eksSlow } from './cells/key-server-down';

export const CELLS: Cell[] = [eksDownAtBoot, eksDownMidRun, eksSlow];

export { MatrixRun } from './runner';
export type { Cell, CellResult } from './cell';
