// Load figures: concurrent API clients, consecutive boots.
export { RSS_GOALS, runApiLoad, type ApiLoadOptions, type ApiLoadReport } from './api-load';
export { runBootLoad, type BootLoadOptions, type BootLoadReport } from './boot-load';
