// The store contract on SQLite.
import t from 'tap';
import { sqliteBackend } from './backends';
import { runContract } from './index';

runContract(t, sqliteBackend());
