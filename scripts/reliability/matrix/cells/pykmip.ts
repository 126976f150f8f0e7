// Cells against PyKMIP, a real KMIP server with its own TLS checks: a client certificate
// without clientAuth, one that expires during the run, a server whose CA ekmd was not
// given. One PyKMIP serves all of them (each cell is its own cluster and key owner).
import { readFileSync } from 'node:fs';
import { signClientCsr } from '../../../pki/dev-pki';
import type { Cell } from '../cell';
import { faultCause, until } from '../node';
import { checkInvariants, clusterNode, createKeyServer, devCa } from '../scenario';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const noClientAuth: Cell = {
  name: 'client certificate without clientAuth',
  expected:
    'a client certificate with serverAuth only is refused: at input, or by the key server ' +
    '(AddKeyServerToProviderKmip → xKeyServerTestFailed); nothing is added; a proper ' +
    'certificate then works and EAR enables; invariants hold',
  eks: 'pykmip',
  ci: true,
  async run(ctx, seen) {
    const py = await ctx.pykmip();
    const { node, csr } = await clusterNode(ctx, seen, { drives: 2 });
    const bad = signClientCsr(ctx.pki.dir, csr, { clientAuth: false });
    const spec = {
      kmipCaCertificate: devCa(ctx),
      kmipClientCertificate: bad,
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: 'pykmip',
      kmipKeyServerPort: py.port,
    };
    const created = await node.rpc.call('CreateKeyServerKmip', spec);
    const keyProviderID = (await node.rpc.ok('CreateKeyProviderKmip', { keyProviderName: 'p' }))
      .kmipKeyProvider.keyProviderID as number;
    let keyServerID: number;
    if (created.error) {
      seen.note(`refused at input: ${created.error.name}: ${created.error.message.slice(0, 90)}`);
      keyServerID = await createKeyServer(ctx, node, csr, { name: 'pykmip', port: py.port });
    } else {
      keyServerID = created.result!.kmipKeyServer.keyServerID as number;
      const add = await node.rpc.call('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
      seen.expect(
        add.error?.name === 'xKeyServerTestFailed',
        `accepted at input; AddKeyServerToProviderKmip: ${add.error?.name}: ${add.error?.message.slice(0, 100)}`,
      );
      const servers = (await node.rpc.ok('ListKeyServersKmip')).kmipKeyServers as any[];
      seen.expect(servers[0]?.keyProviderID == null, 'not added to the provider');
      const mod = await node.rpc.call('ModifyKeyServerKmip', {
        keyServerID,
        kmipClientCertificate: signClientCsr(ctx.pki.dir, csr),
      });
      seen.expect(!mod.error, 'a clientAuth certificate is accepted', mod.error?.message);
    }
    await node.rpc.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
    await seen.step('EAR enabled with keys at PyKMIP', node.enableEar(keyProviderID));
    await checkInvariants(node, seen);
  },
};

export const expiringClientCert: Cell = {
  name: 'client certificate expires during the run',
  expected:
    'a certificate valid 25 s is accepted (expired ones are refused at input); after expiry ' +
    'a relocked drive cannot get its key: kmipServerFault (TLS) + driveFailed; ' +
    'ModifyKeyServerKmip with a renewed certificate resolves both; invariants hold',
  eks: 'pykmip',
  ci: false,
  async run(ctx, seen) {
    const py = await ctx.pykmip();
    const { node, csr } = await clusterNode(ctx, seen, { drives: 2 });
    const validUntil = Date.now() + 25_000;
    const keyServerID = await createKeyServer(ctx, node, csr, {
      name: 'pykmip',
      port: py.port,
      clientCertPem: signClientCsr(ctx.pki.dir, csr, { validForMs: 25_000 }),
    });
    const keyProviderID = (await node.rpc.ok('CreateKeyProviderKmip', { keyProviderName: 'p' }))
      .kmipKeyProvider.keyProviderID as number;
    await node.rpc.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
    await seen.step('EAR enabled before expiry', node.enableEar(keyProviderID));
    await node.waitUnlocked();
    const early = await node.faultCodes();
    seen.note(`before expiry: ${early.join(',') || 'no fault (no expiry warning today)'}`);
    await sleep(Math.max(0, validUntil - Date.now() + 2000));
    const expired = await node.rpc.call('ModifyKeyServerKmip', {
      keyServerID,
      kmipClientCertificate: signClientCsr(ctx.pki.dir, csr, { validForMs: -1000 }),
    });
    seen.expect(
      !!expired.error,
      `an expired certificate is refused at input: ${expired.error?.name}`,
    );
    await node.simOp({ op: 'unplug', drive: 0 });
    await node.simOp({ op: 'plug', drive: 0 });
    const f = await seen.step('kmipServerFault raised', node.waitFault('kmipServerFault'));
    seen.note(`details: ${faultCause(f.details)}`);
    await seen.step('driveFailed raised', node.waitFault('driveFailed'));
    const renewed = await node.rpc.call('ModifyKeyServerKmip', {
      keyServerID,
      kmipClientCertificate: signClientCsr(ctx.pki.dir, csr),
    });
    seen.expect(!renewed.error, 'renewed certificate accepted', renewed.error?.message);
    await seen.step('faults resolved', node.waitNoFaults());
    await seen.step('drive unlocked', node.waitUnlocked());
    await checkInvariants(node, seen);
  },
};

export const untrustedCaConfig: Cell = {
  name: 'server signed by an untrusted CA (configuration)',
  expected:
    'a key server configured with a CA that did not sign its certificate: ' +
    'AddKeyServerToProviderKmip → xKeyServerTestFailed (tls), nothing added; with the ' +
    'right CA it is added and EAR enables; invariants hold',
  eks: 'pykmip',
  ci: false,
  async run(ctx, seen) {
    const py = await ctx.pykmip();
    const { node, csr } = await clusterNode(ctx, seen, { drives: 2 });
    const keyServerID = await createKeyServer(ctx, node, csr, {
      name: 'pykmip',
      port: py.port,
      caPem: readFileSync(ctx.pki.untrustedCa, 'utf8'),
    });
    const keyProviderID = (await node.rpc.ok('CreateKeyProviderKmip', { keyProviderName: 'p' }))
      .kmipKeyProvider.keyProviderID as number;
    const add = await node.rpc.call('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
    seen.expect(
      add.error?.name === 'xKeyServerTestFailed',
      `AddKeyServerToProviderKmip: ${add.error?.name}: ${add.error?.message.slice(0, 100)}`,
    );
    const servers = (await node.rpc.ok('ListKeyServersKmip')).kmipKeyServers as any[];
    seen.expect(servers[0]?.keyProviderID == null, 'not added to the provider');
    await node.rpc.ok('ModifyKeyServerKmip', { keyServerID, kmipCaCertificate: devCa(ctx) });
    await node.rpc.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
    await seen.step('EAR enabled with the right CA', node.enableEar(keyProviderID));
    await until('unlocked', async () => (await node.simStatus()).every((s) => !s.locked), 5000);
    await checkInvariants(node, seen);
  },
};
