// Parameter validation with ajv, mapped onto Element's error names: a missing member is
// xMissingParameter ("Missing member=[name]"), a wrong type, range or enum is
// xInvalidParameter naming the member. Unknown members are tolerated and reported back.
// Strings anywhere in params must be well-formed text without NUL: a NUL truncates C
// strings (KMIP names, certificates handed to OpenSSL) and a lone UTF-16 surrogate has no
// UTF-8 form, so neither may reach the store.
import type Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ElementError } from '../cluster/errors';
import type { ParamsSchema } from './method';

let ajv: Ajv | undefined;

/** Loaded on the first call that needs it: ajv and its compiles are not boot's business. */
function sharedAjv(): Ajv {
  if (!ajv) {
    const { default: AjvClass } = require('ajv') as typeof import('ajv');
    ajv = new AjvClass({ allErrors: false, strict: true });
  }
  return ajv;
}

export interface ParamsValidator {
  /** Throws ElementError; returns the members the method does not know. */
  check(params: Record<string, unknown>): Record<string, string> | undefined;
  /** True when `name` is one of the method's parameters. */
  knows(name: string): boolean;
}

/** Compiles on the first check (then cached): a boot compiling every method's schema is slow. */
export function compileParams(schema: ParamsSchema): ParamsValidator {
  let compiled: ValidateFunction | undefined;
  const known = new Set(Object.keys(schema.properties));
  return {
    knows: (name) => known.has(name),
    check(params) {
      checkStrings(params);
      const validate = (compiled ??= sharedAjv().compile(schema));
      if (!validate(params)) throw toElementError(validate.errors?.[0]);
      const unused = Object.keys(params).filter((k) => !known.has(k));
      if (unused.length === 0) return undefined;
      // Named with the value's JSON type, never the value: it might be a misspelt secret.
      return Object.fromEntries(unused.map((k) => [k, jsonType(params[k])]));
    },
  };
}

const NUL = '\u0000';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Deeper than this, an error names the outermost members only (paths stay short). */
const MAX_NAMED_DEPTH = 16;

/**
 * Refuses NUL and lone surrogates in every string of params, member names included.
 * Iterative: a body can nest deeper than the call stack.
 */
function checkStrings(params: Record<string, unknown>): void {
  const stack: [string, unknown, number][] = [['', params, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [where, value, depth] = item;
    const at = (child: string) =>
      depth === 0 ? child : depth < MAX_NAMED_DEPTH ? `${where}[${child}]` : where;
    if (typeof value === 'string') {
      if (value.includes(NUL)) throw badText(where, 'must not contain NUL characters');
      if (LONE_SURROGATE.test(value)) {
        throw badText(where, 'must be well-formed Unicode (it holds a lone UTF-16 surrogate)');
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push([at(String(i)), v, depth + 1]));
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        if (k.includes(NUL) || LONE_SURROGATE.test(k)) {
          throw badText(JSON.stringify(at(k)), 'member name is not well-formed text');
        }
        stack.push([at(k), v, depth + 1]);
      }
    }
  }
}

function badText(where: string, why: string): ElementError {
  return new ElementError('xInvalidParameter', `Invalid parameter ${where}: ${why}.`);
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
