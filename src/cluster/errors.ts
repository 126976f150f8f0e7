// Element reports every failure as {code: 500, name: 'x…', message}. Domain services throw
// ElementError with the name the client will see; anything else is an internal error.

export class ElementError extends Error {
  constructor(
    /** Element's error name, e.g. xKeyServerIDDoesNotExist. */
    readonly elementName: string,
    message: string,
  ) {
    super(message);
    this.name = 'ElementError';
  }
}

export function doesNotExist(thing: 'KeyServer' | 'KeyProvider', id: number): ElementError {
  const words = thing === 'KeyServer' ? 'Key server' : 'Key provider';
  return new ElementError(`x${thing}IDDoesNotExist`, `${words} ${id} does not exist.`);
}

export function invalidParameter(name: string, why: string): ElementError {
  return new ElementError('xInvalidParameter', `Invalid parameter ${name}: ${why}`);
}

/** The record changed between our read and our write (a concurrent call); Element says retry. */
export function versionMismatch(what: string): ElementError {
  return new ElementError('xDBVersionMismatch', `${what} changed during the operation; retry.`);
}
