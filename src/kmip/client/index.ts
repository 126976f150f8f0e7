// KMIP client: mutual TLS, version negotiation, batching, failover.
export { KmipClient, KMIP_PORT, type KmipServerOptions } from './client';
export { KmipProvider, type KmipProviderOptions } from './provider';
export { KmipOperations } from './operations';
export { KmipError, type KmipStage, type KmipErrorDetails } from './errors';
export type { BatchOutcome, ItemResult, ResultsOf } from './batch';
export type { TlsInfo } from './connection';
export {
  onKmipRequest,
  type KmipRequestEvent,
  type KmipRequestListener,
  type KmipRequestResult,
} from './observer';
export {
  ops,
  CLIENT_VERSIONS,
  formatVersion,
  parseVersion,
  type BatchOp,
  type Created,
  type FetchedAttributes,
  type FetchedObject,
  type LocateFilter,
  type ObjectAttributes,
  type QueryResult,
  type SymmetricKeySpec,
  type AttributeKey,
} from '../messages';
