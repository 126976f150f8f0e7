// Typed KMIP messages on top of the TTLV codec, shared by the client and the dev server.
export * from './version';
export * from './envelope';
export * from './attributes';
export * from './objects';
export * as ops from './operations';
export type {
  BatchOp,
  Created,
  FetchedAttributes,
  FetchedObject,
  LocateFilter,
  QueryResult,
  SymmetricKeySpec,
} from './operations';
