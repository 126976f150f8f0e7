// CreatePublicPrivateKeyPair and GetClientCertificateSignRequest.
import type { KeyPairSubject } from '../../cluster/key-pair';
import { defineMethod, noParams, text } from '../method';

export const keyPairMethods = [
  defineMethod<KeyPairSubject>({
    name: 'CreatePublicPrivateKeyPair',
    params: {
      type: 'object',
      properties: {
        commonName: text(64),
        country: { type: 'string', pattern: '^[A-Za-z]{2}$' },
        emailAddress: text(255),
        locality: text(128),
        organization: text(64),
        organizationalUnit: text(64),
        state: text(128),
      },
    },
    handler: async (params, { keyPair }) => {
      await keyPair.create(params);
      return {};
    },
  }),
  defineMethod({
    name: 'GetClientCertificateSignRequest',
    params: noParams,
    handler: (_params, { keyPair }) => ({
      clientCertificateSignRequest: keyPair.certificateSignRequest(),
    }),
  }),
];
