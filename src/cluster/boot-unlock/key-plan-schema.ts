// The schema of key-plan.json (key-plan.ts), apart so that the daemon's validators load
// it without the modules that make a plan.
export const KEY_PLAN_FORMAT = 2;

const text = { type: 'string', minLength: 1 };
const id = { type: 'integer', minimum: 1 };
const hex = { type: 'string', pattern: '^[0-9a-f]{64}$' };

/** What a key plan file must be (key-plan.ts); the build makes a validator of it. */
export const keyPlanSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['format', 'sealedPrivateKey', 'providers', 'drives', 'guards'],
  properties: {
    format: { const: KEY_PLAN_FORMAT },
    sealedPrivateKey: text,
    providers: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['keyProviderID', 'servers'],
        properties: {
          keyProviderID: id,
          servers: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: [
                'keyServerID',
                'kmipKeyServerHostnames',
                'kmipKeyServerPort',
                'kmipCaCertificate',
                'kmipClientCertificate',
              ],
              properties: {
                keyServerID: id,
                kmipKeyServerHostnames: { type: 'array', minItems: 1, items: text },
                kmipKeyServerPort: { type: 'integer', minimum: 1, maximum: 65535 },
                kmipCaCertificate: text,
                kmipClientCertificate: text,
                version: { type: 'string', pattern: '^[0-9]+\\.[0-9]+$' },
              },
            },
          },
        },
      },
    },
    drives: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: [
          'driveID',
          'serial',
          'path',
          'keyID',
          'keyProviderID',
          'kmipUID',
          'keyCheckValue',
        ],
        properties: {
          driveID: id,
          serial: text,
          path: text,
          keyID: text,
          keyProviderID: id,
          kmipUID: text,
          keyCheckValue: hex,
        },
      },
    },
    guards: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['driveID', 'keyID', 'keyCheckValue', 'bootID'],
        properties: {
          driveID: id,
          keyID: text,
          keyCheckValue: hex,
          // '' where the kernel offers no boot id (the guard then lasts until the key changes)
          bootID: { type: 'string' },
        },
      },
    },
  },
} as const;
