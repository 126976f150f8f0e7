// The store contract on the asynchronous SQLite backend.
import t from 'tap';
import { sqliteBackend } from './backends';
import { runContract } from './index';

runContract(t, sqliteBackend());
