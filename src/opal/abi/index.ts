// The kernel's sed-opal ABI: request numbers, struct layouts, encoders/decoders, constants.
export * from './ioc';
export * from './constants';
export * from './layouts';
export * from './requests';
export * from './struct-types';
export * from './structs-session';
export * from './structs-ranges';
export * from './structs-tables';
