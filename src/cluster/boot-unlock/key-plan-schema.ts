// The schema of key-plan.json (key-plan.ts), apart so that the daemon's validators load
// it without the modules that make a plan. Format 3 adds `splitKey` (drives whose AK is
// sealed under the split drive-access key) and allows a plan without a key provider; a
// format 2 file, written by an older ekmd, is read as it was.
export const KEY_PLAN_FORMAT = 3;
const READ_FORMATS = [2, KEY_PLAN_FORMAT];

const text = { type: 'string', minLength: 1 };
const id = { type: 'integer', minimum: 1 };
const hex = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const base64 = { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9+/]+={0,2}$' };

/** A node holding a share of the drive-access key, where its link listens, and its pin. */
const peer = {
  type: 'object',
  additionalProperties: false,
  required: ['nodeID', 'host', 'port', 'certificate'],
  properties: {
    nodeID: id,
    host: text,
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    certificate: text,
  },
} as const;

/** A drive whose internal AK is sealed under the drive-access key, as the store holds it. */
const dakDrive = {
  type: 'object',
  additionalProperties: false,
  required: ['driveID', 'serial', 'path', 'keyID', 'sealedKey', 'keyCheckValue'],
  properties: {
    driveID: id,
    serial: text,
    path: text,
    keyID: text,
    sealedKey: base64,
    keyCheckValue: hex,
  },
} as const;

const splitKey = {
  type: 'object',
  additionalProperties: false,
  required: [
    'nodeID',
    'clusterUuid',
    'generation',
    'nodeIDs',
    'keyCheckValue',
    'wrappedShare',
    'peers',
    'drives',
  ],
  properties: {
    nodeID: id,
    clusterUuid: text,
    generation: id,
    nodeIDs: { type: 'array', minItems: 2, items: id },
    keyCheckValue: hex,
    wrappedShare: base64,
    peers: { type: 'array', items: peer },
    drives: { type: 'array', minItems: 1, items: dakDrive },
  },
} as const;

/** What a key plan file must be (key-plan.ts); the build makes a validator of it. */
export const keyPlanSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['format', 'providers', 'drives', 'guards'],
  // Something to unlock: drives at a provider (with the private key to ask it), or drives
  // under the split drive-access key alone.
  anyOf: [
    {
      required: ['sealedPrivateKey'],
      properties: {
        sealedPrivateKey: text,
        providers: { type: 'array', minItems: 1 },
        drives: { type: 'array', minItems: 1 },
      },
    },
    {
      required: ['splitKey'],
      properties: { splitKey: { type: 'object' }, drives: { type: 'array', maxItems: 0 } },
    },
  ],
  properties: {
    format: { enum: READ_FORMATS },
    // Absent when no planned drive's AK is at a key provider.
    sealedPrivateKey: text,
    providers: {
      type: 'array',
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
    splitKey,
  },
} as const;
