// Hostile JSON-RPC requests built from the method table's parameter schemas: each
// parameter missing, of the wrong type, huge, negative, unicode, null or empty; malformed
// JSON; a 10 MB body; unknown methods; no or bad credentials. Each case names the
// documented answer, so a test can hold the server to it.
import type { ApiMethod } from '../../../../src/api';
import type { Rng } from '../rng';
import { basic, type RawReply } from './api-node';

export interface ApiCase {
  label: string;
  body: string | Buffer;
  /** undefined: the admin's credentials; null: none. */
  auth?: string | null;
  status: number;
  /** Error names allowed; 'result' allows a successful reply too. */
  answers: readonly string[];
}

type Schema = {
  type?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
};

const PARAM_ERRORS = ['xInvalidParameter', 'xMissingParameter'] as const;
const UNICODE = '\u{1F512}\u00e9\u202e\u0000\ufffd\u0301 \uD800';
const WRONG_TYPE: Record<string, unknown> = {
  integer: '1',
  number: '1',
  string: 12345,
  boolean: 'true',
  array: { a: 1 },
  object: [1],
};

/** Hostile values for one parameter; `invalid` where its schema forbids the value. */
export function hostileValues(s: Schema): { kind: string; value: unknown; invalid: boolean }[] {
  const out: { kind: string; value: unknown; invalid: boolean }[] = [
    { kind: 'null', value: null, invalid: true },
  ];
  if (s.type && s.type in WRONG_TYPE)
    out.push({ kind: 'wrong type', value: WRONG_TYPE[s.type], invalid: true });
  if (s.type === 'integer' || s.type === 'number') {
    out.push(
      { kind: 'negative', value: -1, invalid: (s.minimum ?? -Infinity) >= 0 },
      { kind: 'huge', value: 2 ** 53, invalid: (s.maximum ?? Infinity) < 2 ** 53 },
      { kind: 'huge float', value: 1e308, invalid: true },
      { kind: 'fraction', value: 1.5, invalid: s.type === 'integer' },
    );
  }
  if (s.type === 'string') {
    const huge = Math.min((s.maxLength ?? 600_000) + 1, 600_000);
    out.push(
      { kind: 'huge', value: 'x'.repeat(huge), invalid: s.maxLength !== undefined },
      { kind: 'empty', value: '', invalid: (s.minLength ?? 0) > 0 },
      { kind: 'unicode', value: UNICODE, invalid: false },
    );
  } else out.push({ kind: 'unicode', value: UNICODE, invalid: s.type !== undefined });
  if (s.type === 'array') {
    out.push(
      { kind: 'huge', value: new Array((s.maxItems ?? 10_000) + 1).fill(1), invalid: true },
      { kind: 'empty', value: [], invalid: (s.minItems ?? 0) > 0 },
    );
  }
  return out;
}

function rpc(method: unknown, params?: unknown, id: unknown = 1): string {
  return JSON.stringify(params === undefined ? { method, id } : { method, id, params });
}

/** Every parameter of every method, one hostile value at a time. */
export function methodCases(methods: readonly ApiMethod[]): ApiCase[] {
  const cases: ApiCase[] = [];
  for (const m of methods) {
    const required = m.params.required ?? [];
    cases.push({
      label: `${m.name} without params`,
      body: rpc(m.name),
      status: 200,
      answers: required.length ? ['xMissingParameter'] : ['result', 'x*'],
    });
    for (const [name, schema] of Object.entries(m.params.properties)) {
      for (const v of hostileValues(schema as Schema)) {
        // With only this member given, a forbidden value is reported either as itself or
        // as a missing required member; exactly as itself when nothing else is required.
        const alone = required.every((r) => r === name);
        cases.push({
          label: `${m.name} ${name} ${v.kind}`,
          body: rpc(m.name, { [name]: v.value }),
          status: 200,
          answers: v.invalid ? (alone ? ['xInvalidParameter'] : PARAM_ERRORS) : ['result', 'x*'],
        });
      }
    }
    cases.push({
      label: `${m.name} params not an object`,
      body: rpc(m.name, [1, 2]),
      status: 200,
      answers: ['xInvalidParameter'],
    });
  }
  return cases;
}

/** Requests wrong before any method is looked at. */
export function envelopeCases(): ApiCase[] {
  const invalidRequest = (label: string, body: string): ApiCase => ({
    label,
    body,
    status: 200,
    answers: ['xInvalidRequest'],
  });
  const unknown = (name: string): ApiCase => ({
    label: `unknown method ${JSON.stringify(name)}`,
    body: rpc(name),
    status: 200,
    answers: ['xUnknownAPIMethod'],
  });
  const malformed = ['{', '{"method":', 'nul', '\u0000', '', '{"method":"GetAPI"}}', '\uD800'];
  return [
    ...malformed.map((body) => ({
      label: `malformed JSON ${JSON.stringify(body)}`,
      body,
      status: 200,
      answers: ['xInvalidJSON'],
    })),
    invalidRequest('a batch', '[{"method":"GetAPI","id":1}]'),
    invalidRequest('a string', '"GetAPI"'),
    invalidRequest('null', 'null'),
    invalidRequest('method a number', rpc(5)),
    invalidRequest('method missing', '{"id":1}'),
    invalidRequest('id an object', rpc('GetAPI', {}, { a: 1 })),
    ...['NoSuchMethod', '', '__proto__', 'constructor', 'toString', 'GetAPI ', 'Get\u0130PI'].map(
      unknown,
    ),
    {
      label: 'a 10 MB body',
      body: Buffer.alloc(10 * 1024 * 1024, 0x20),
      status: 413,
      answers: ['xRequestTooLarge'],
    },
    {
      label: 'prototype keys in params',
      body: '{"method":"GetAPI","id":1,"params":{"__proto__":{"x":1},"constructor":1}}',
      status: 200,
      answers: ['result'],
    },
  ];
}

/** Three refused logins: the auth throttle only starts delaying after them. */
export function credentialCases(): ApiCase[] {
  const body = rpc('GetAPI');
  return [
    { label: 'no credentials', body, auth: null, status: 401, answers: [] },
    {
      label: 'wrong password',
      body,
      auth: basic({ username: 'admin', password: 'wrong' }),
      status: 401,
      answers: [],
    },
    { label: 'malformed Authorization', body, auth: 'Basic %%%', status: 401, answers: [] },
  ];
}

export interface ParsedReply {
  result?: unknown;
  error?: { code?: unknown; name?: unknown };
}

/** Why `reply` is not what `c` documents, or undefined when it is. */
export function replyProblem(c: ApiCase, reply: RawReply): string | undefined {
  if (reply.status !== c.status) return `HTTP ${reply.status}, expected ${c.status}`;
  if (c.status === 401) return undefined;
  let parsed: ParsedReply;
  try {
    parsed = JSON.parse(reply.text) as ParsedReply;
  } catch {
    return `reply is not JSON: ${reply.text.slice(0, 80)}`;
  }
  if (parsed.error) {
    const name = String(parsed.error.name);
    if (parsed.error.code !== 500) return `error code ${String(parsed.error.code)}`;
    const anyError = c.answers.includes('x*') && /^x[A-Za-z]+$/.test(name);
    if ((anyError && name !== 'xInternalError') || c.answers.includes(name)) return undefined;
    return `error ${name}, expected ${c.answers.join(' or ')}`;
  }
  return c.answers.includes('result') ? undefined : `a result, expected ${c.answers.join(' or ')}`;
}

/** A random request: a known or unknown method with 0..3 hostile members. */
export function randomApiCase(rng: Rng, methods: readonly ApiMethod[]): ApiCase {
  const m = rng.pick(methods);
  const params: Record<string, unknown> = {};
  const names = Object.keys(m.params.properties);
  for (let n = rng.int(4); n > 0 && names.length > 0; n--) {
    const name = rng.pick(names);
    params[name] = rng.pick(hostileValues(m.params.properties[name] as Schema)).value;
  }
  const method = rng.chance(0.05) ? `${m.name}${rng.int(10)}` : m.name;
  return {
    label: `${method} random`,
    body: rpc(method, params, rng.int(1000)),
    status: 200,
    answers: ['result', 'x*'],
  };
}

/** All the deterministic cases for the methods this node serves. */
export function allApiCases(methods: readonly ApiMethod[]): ApiCase[] {
  return [...envelopeCases(), ...methodCases(methods), ...credentialCases()];
}
