/** A store that cannot be opened or used safely: corrupt, foreign, or from a newer ekmd. */
export class StoreError extends Error {
  override name = 'StoreError';
}
