// The key server as its operator sees it: a KMIP client with the dev PKI's storage-node-1
// identity, the owner (by CN) of the node's AKs at the dev key server and PyKMIP.
import { readFileSync } from 'node:fs';
import { akName } from '../../../src/cluster/drive-keys/kmip-keys';
import { KmipClient } from '../../../src/kmip/client';
import type { DevPki } from '../../pki/dev-pki';
import type { MatrixNode } from './node';

export function eksClient(pki: DevPki, port: number): KmipClient {
  const read = (p: string) => readFileSync(p, 'utf8');
  return new KmipClient({
    hostnames: ['127.0.0.1'],
    port,
    ca: read(pki.ca),
    cert: read(pki.client.cert),
    key: read(pki.client.key),
    connectTimeoutMs: 2000,
    requestTimeoutMs: 5000,
  });
}

/** The KMIP UID of the AK of the drive in `slot`, found by its Name. */
export async function akUid(node: MatrixNode, client: KmipClient, slot: number): Promise<string> {
  const uuid = (await node.rpc.ok('GetClusterInfo')).clusterInfo.uuid as string;
  const d = (await node.drives()).find((x) => x.slot === slot);
  if (!d?.keyID) throw new Error(`drive in slot ${slot} has no AK`);
  const [uid] = await client.locate({
    names: [akName(uuid, { serial: d.serial, keyID: d.keyID })],
  });
  if (!uid) throw new Error(`the AK of slot ${slot} is not at the key server`);
  return uid;
}
