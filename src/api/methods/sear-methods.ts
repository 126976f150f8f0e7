// GetSoftwareEncryptionAtRestInfo and RekeySoftwareEncryptionAtRestMasterKey (Element 5.5,
// 5.6; the rekey is polled with GetAsyncResult). keyManagementType is accepted in any case
// (Element documents Internal/External, its examples use lowercase).
import type { SearService } from '../../cluster/sear/sear-service';
import { defineMethod, id, noParams, text, type ApiMethod } from '../method';

export function searMethods(sear: SearService): ApiMethod[] {
  return [
    defineMethod({
      name: 'GetSoftwareEncryptionAtRestInfo',
      params: noParams,
      handler: () => sear.info(),
    }),
    defineMethod<{ keyManagementType?: string; keyProviderID?: number }>({
      name: 'RekeySoftwareEncryptionAtRestMasterKey',
      params: {
        type: 'object',
        properties: { keyManagementType: text(16), keyProviderID: id },
      },
      handler: async (p) => ({ asyncHandle: await sear.rekey(p) }),
    }),
  ];
}

/**
 * ListDrives with each drive's SEAR state in its `attributes` (Element leaves that object
 * empty): `softwareEncryptionAtRest` is "attached" or why the DEK is not, e.g. a backend
 * that cannot attach DEKs.
 */
export function withSearDriveStatus(methods: ApiMethod[], sear: SearService): ApiMethod[] {
  return methods.map((m) =>
    m.name !== 'ListDrives'
      ? m
      : {
          ...m,
          handler: async (params, services) => {
            const out = (await m.handler(params, services)) as {
              drives: { serial: string; attributes: object }[];
            };
            for (const d of out.drives) {
              const status = sear.driveStatus(d.serial);
              if (status !== undefined)
                d.attributes = { ...d.attributes, softwareEncryptionAtRest: status };
            }
            return out;
          },
        },
  );
}
