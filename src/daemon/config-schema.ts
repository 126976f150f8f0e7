// The one schema of ekmd's JSON configuration (README, "Configuration"). Every object
// is closed (unknown keys are errors) and defaults live here, nowhere else.
import { SYSLOG_FACILITY_CODES } from '../cluster/faults/fault-syslog';

export const KMIP_VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const DRIVE_ROLES = ['volume', 'block'] as const;
/** Characters a bootstrap admin password needs at least. */
export const MIN_BOOTSTRAP_PASSWORD = 12;

/** Ajv's options for this schema: the build's generated validator and the fallback share them. */
export const AJV_OPTIONS = {
  allErrors: true,
  useDefaults: true,
  strict: true,
  strictRequired: false, // if/then requires keys declared beside, not inside
} as const;

/** The generated validator module, beside config.js in dist (scripts/build/config-validator). */
export const GENERATED_VALIDATOR = 'config-validator.generated.js';

const path = { type: 'string', minLength: 1 };
const listen = { type: 'string', minLength: 3 };
const ms = (def: number, max: number) => ({
  type: 'integer',
  minimum: 1,
  maximum: max,
  default: def,
});

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['stateDir', 'drives'],
  properties: {
    stateDir: path,
    api: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { ...listen, default: '127.0.0.1:8443' },
        // Before CreateCluster; absent: loopback at api.listen's port (config.ts).
        bootstrapListen: listen,
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: { cert: path, key: path },
        },
      },
    },
    admin: {
      type: 'object',
      additionalProperties: false,
      required: ['username', 'password'],
      properties: {
        username: { type: 'string', minLength: 1 },
        password: { type: 'string', minLength: MIN_BOOTSTRAP_PASSWORD },
      },
    },
    drives: {
      type: 'object',
      additionalProperties: false,
      required: ['backend'],
      properties: {
        backend: { enum: ['sim', 'ioctl'] },
        sim: {
          type: 'object',
          additionalProperties: false,
          required: ['socket'],
          properties: { socket: path },
        },
        ioctl: {
          type: 'object',
          additionalProperties: false,
          required: ['devices'],
          properties: { devices: { type: 'array', minItems: 1, items: path } },
        },
        roles: {
          type: 'object',
          propertyNames: { minLength: 1 },
          additionalProperties: { enum: DRIVE_ROLES },
        },
      },
      allOf: [
        { if: { properties: { backend: { const: 'sim' } } }, then: { required: ['sim'] } },
        { if: { properties: { backend: { const: 'ioctl' } } }, then: { required: ['ioctl'] } },
      ],
    },
    kmip: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        version: { enum: KMIP_VERSIONS },
        connectTimeoutMs: ms(3000, 600_000),
        requestTimeoutMs: ms(10_000, 600_000),
      },
    },
    unlock: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        retry: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { maxDelayMs: ms(30_000, 3_600_000) },
        },
        metadataGraceSec: { type: 'integer', minimum: 0, maximum: 86_400, default: 360 },
        keyCheckIntervalSec: { type: 'integer', minimum: 1, maximum: 604_800, default: 300 },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { listen },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { level: { enum: LOG_LEVELS, default: 'info' } },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        backend: { enum: ['sqlite', 'etcd'], default: 'sqlite' },
        etcd: {
          type: 'object',
          additionalProperties: false,
          required: ['endpoints', 'prefix'],
          properties: {
            endpoints: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            prefix: { type: 'string', minLength: 2 },
            tls: {
              type: 'object',
              additionalProperties: false,
              required: ['ca', 'cert', 'key'],
              properties: { ca: path, cert: path, key: path },
            },
          },
        },
      },
      // `required` in the if: a config without store.backend (sqlite by default) matches
      // the if's properties vacuously, and Ajv applies the default only after allOf.
      allOf: [
        {
          if: { required: ['backend'], properties: { backend: { const: 'etcd' } } },
          then: { required: ['etcd'] },
        },
      ],
    },
    node: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 64 },
        ip: { type: 'string', minLength: 2, maxLength: 64 },
      },
    },
    syslog: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        faults: { type: 'boolean', default: false },
        socket: { ...path, default: '/dev/log' },
        facility: { enum: Object.keys(SYSLOG_FACILITY_CODES), default: 'daemon' },
      },
    },
  },
} as const;
