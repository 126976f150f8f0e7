/** A store that cannot be opened or used safely: corrupt, foreign, or from a newer ekmd. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** A transaction kept meeting concurrent writers and gave up after its attempts. */
export class StoreConflictError extends StoreError {
  override name = 'StoreConflictError';
}

/**
 * The store did not answer, or answered that it cannot commit now (etcd unreachable, its
 * quorum lost, a deadline passed). Nothing was half-written; `outcomeUnknown` says whether
 * a write may still have been applied whole.
 */
export class StoreUnavailableError extends StoreError {
  override name = 'StoreUnavailableError';
  constructor(
    message: string,
    readonly outcomeUnknown = false,
  ) {
    super(message);
  }
}

/** The store refused this client: etcd's permission denied or failed authentication. */
export class StoreAccessError extends StoreError {
  override name = 'StoreAccessError';
}
