import t from 'tap';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import {
  checkCaCertificates,
  checkClientCertificate,
  expiresSoon,
  parseCertificates,
} from '../../src/cluster/certificates';
import { ElementError } from '../../src/cluster/errors';
import { makeCa, signCsr } from './pki';

function csrFor(publicKeyPem: string, privateKeyPem: string): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: 'node' }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

const invalid = (param: string, why: RegExp) => ({
  constructor: ElementError,
  elementName: 'xInvalidParameter',
  message: new RegExp(`Invalid parameter ${param}: .*${why.source}`),
});

t.test('certificate checks', async (t) => {
  const ca = makeCa('CA');
  const other = makeCa('other CA', 20);
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const clusterKey = createPublicKey(keys.publicKey);
  const csr = csrFor(keys.publicKey, keys.privateKey);

  t.test('a bundle of several CA certificates parses, in order', async (t) => {
    const certs = checkCaCertificates(ca.certPem + '\n' + other.certPem);
    t.equal(certs.length, 2);
    t.match(certs[1].subject, 'other CA');
  });

  t.test('bad PEM names the parameter', async (t) => {
    t.throws(
      () => parseCertificates('hello', 'kmipCaCertificate'),
      invalid('kmipCaCertificate', /no PEM/),
    );
    const garbled = '-----BEGIN CERTIFICATE-----\nnot base64 der\n-----END CERTIFICATE-----';
    t.throws(
      () => checkCaCertificates(ca.certPem + garbled),
      invalid('kmipCaCertificate', /certificate 2 does not parse/),
    );
  });

  t.test(
    'expired certificates are refused; nearly expired ones are flagged, not refused',
    async (t) => {
      t.throws(
        () => checkCaCertificates(makeCa('old', -1).certPem),
        invalid('kmipCaCertificate', /expired/),
      );
      const [soon] = checkCaCertificates(other.certPem);
      t.equal(expiresSoon(soon), true, '20 days left is within the 30-day horizon');
      t.equal(expiresSoon(new X509Certificate(ca.certPem)), false);
    },
  );

  t.test('the client certificate must carry the cluster key', async (t) => {
    const leaf = checkClientCertificate(signCsr(ca, csr), clusterKey);
    t.match(leaf.subject, 'CN=node');
    const chain = signCsr(ca, csr) + ca.certPem;
    t.ok(checkClientCertificate(chain, clusterKey), 'a chain after the leaf is fine');
    const stranger = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const foreign = signCsr(ca, csrFor(stranger.publicKey, stranger.privateKey));
    t.throws(
      () => checkClientCertificate(foreign, clusterKey),
      invalid('kmipClientCertificate', /not the cluster's key pair/),
    );
    const expired = signCsr(ca, csr, { notBeforeDays: -10, notAfterDays: -2 });
    t.throws(
      () => checkClientCertificate(expired, clusterKey),
      invalid('kmipClientCertificate', /expired/),
    );
  });
});
