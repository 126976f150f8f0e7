// Parameter validation with ajv, mapped onto Element's error names: a missing member is
// xMissingParameter ("Missing member=[name]"), a wrong type, range or enum is
// xInvalidParameter naming the member. Unknown members are tolerated and reported back.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { ElementError } from '../cluster/errors';
import type { ParamsSchema } from './method';

const ajv = new Ajv({ allErrors: false, strict: true });

export interface ParamsValidator {
  /** Throws ElementError; returns the members the method does not know. */
  check(params: Record<string, unknown>): Record<string, string> | undefined;
}

export function compileParams(schema: ParamsSchema): ParamsValidator {
  const validate: ValidateFunction = ajv.compile(schema);
  const known = new Set(Object.keys(schema.properties));
  return {
    check(params) {
      if (!validate(params)) throw toElementError(validate.errors?.[0]);
      const unused = Object.keys(params).filter((k) => !known.has(k));
      if (unused.length === 0) return undefined;
      // Named with the value's JSON type, never the value: it might be a misspelt secret.
      return Object.fromEntries(unused.map((k) => [k, jsonType(params[k])]));
    },
  };
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}

function toElementError(error: ErrorObject | undefined): ElementError {
  if (!error) return new ElementError('xInvalidParameter', 'Invalid parameters.');
  if (error.keyword === 'required') {
    const name = (error.params as { missingProperty: string }).missingProperty;
    return new ElementError('xMissingParameter', `Missing member=[${name}]`);
  }
  const [, name, ...rest] = error.instancePath.split('/');
  const where = rest.length ? `${name}[${rest.join('][')}]` : name;
  return new ElementError('xInvalidParameter', `Invalid parameter ${where}: ${describe(error)}`);
}

function describe(error: ErrorObject): string {
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}.`;
  }
  return `${error.message ?? 'is invalid'}.`;
}
