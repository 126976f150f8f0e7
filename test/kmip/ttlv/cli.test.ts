// `ekmctl kmip decode|encode` as scripts use them: whole processes, stdin to stdout.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { bin } from '../../helpers/paths';
import {
  Tag,
  Operation,
  encodeTtlv,
  jsonToTtlv,
  xmlToTtlv,
  struct,
  int,
  enumv,
  text,
  bytes,
} from '../../../src/kmip/ttlv';

// The codec commands make no TLS connections: spare each process the extra CA load.
const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;

function ekmctl(args: string[], input: Buffer | string) {
  const r = spawnSync(process.execPath, [bin.ekmctl, 'kmip', ...args], {
    input,
    env,
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

const message = encodeTtlv(
  struct(Tag.RequestMessage, [
    struct(Tag.RequestHeader, [
      struct(Tag.ProtocolVersion, [
        int(Tag.ProtocolVersionMajor, 1),
        int(Tag.ProtocolVersionMinor, 2),
      ]),
      int(Tag.BatchCount, 1),
    ]),
    struct(Tag.BatchItem, [
      enumv(Tag.Operation, Operation.Get),
      struct(Tag.RequestPayload, [
        text(Tag.UniqueIdentifier, 'uid-1'),
        bytes(0x540001, Buffer.from([1, 2])),
      ]),
    ]),
  ]),
);

t.test('decode prints JSON that encodes back to the same bytes', async (t) => {
  const r = ekmctl(['decode'], message);
  t.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout.toString());
  t.equal(json.tag, 'RequestMessage');
  t.match(r.stdout.toString(), /"value": "Get"/, 'enumeration by name');
  t.same(encodeTtlv(jsonToTtlv(json)), message);
  const back = ekmctl(['encode'], r.stdout);
  t.equal(back.status, 0, back.stderr);
  t.same(back.stdout, message, 'encode restores the bytes');
});

t.test('decode --hex --format xml, and encode of that XML with --hex', async (t) => {
  const hexText = message.toString('hex').replace(/(.{16})/g, '$1 \n');
  const r = ekmctl(['decode', '--hex', '--format', 'xml'], hexText);
  t.equal(r.status, 0, r.stderr);
  const xml = r.stdout.toString();
  t.match(xml, /^<RequestMessage>/);
  t.match(xml, /<TTLV tag="0x540001" type="ByteString" value="0102"\/>/);
  t.same(encodeTtlv(xmlToTtlv(xml)), message);
  const back = ekmctl(['encode', '--hex'], xml); // '<' selects XML
  t.equal(back.status, 0, back.stderr);
  t.equal(back.stdout.toString().trim(), message.toString('hex'));
});

t.test('encode reads the spec tables’ spellings of the message’s version', async (t) => {
  const xml = (major: number, minor: number, items: string) =>
    `<RequestMessage><RequestHeader><ProtocolVersion>` +
    `<ProtocolVersionMajor type="Integer" value="${major}"/>` +
    `<ProtocolVersionMinor type="Integer" value="${minor}"/></ProtocolVersion>` +
    `<BatchCount type="Integer" value="1"/></RequestHeader><BatchItem>` +
    `<Operation type="Enumeration" value="Sign"/><RequestPayload><CryptographicParameters>` +
    `${items}</CryptographicParameters></RequestPayload></BatchItem></RequestMessage>`;
  const mfg1 = ekmctl(['encode'], xml(2, 1, '<MaskGenerator type="Enumeration" value="MFG1"/>'));
  t.equal(mfg1.status, 0, mfg1.stderr);
  const printed = ekmctl(['decode', '--format', 'xml'], mfg1.stdout);
  t.equal(printed.status, 0, printed.stderr);
  t.match(printed.stdout.toString(), /<MaskGenerator type="Enumeration" value="MGF1"\/>/);
  const dsa =
    '<DigitalSignatureAlgorithm type="Enumeration" value="SHA_1WithRSAEncryptionPKCS_1V1_5"/>';
  const full = ekmctl(['encode'], xml(1, 4, dsa));
  t.equal(full.status, 0, full.stderr);
  t.match(
    ekmctl(['decode', '--format', 'xml'], full.stdout).stdout.toString(),
    /<DigitalSignatureAlgorithm type="Enumeration" value="SHA_1WithRSAEncryption"\/>/,
  );
  const refused = ekmctl(['encode'], xml(1, 4, '<MaskGenerator type="Enumeration" value="MFG1"/>'));
  t.equal(refused.status, 2);
  t.match(refused.stderr, /MaskGenerator: a KMIP 2\.0-2\.1 spelling, not used in 1\.4: write MGF1/);
});

t.test('bad input: one line naming the offset or field, exit 2', async (t) => {
  const truncated = ekmctl(['decode'], message.subarray(0, 20));
  t.equal(truncated.status, 2);
  t.match(truncated.stderr, /^ekmctl kmip decode: .*at offset \d+ \(tag 0x42[0-9a-f]{4}\)\n$/);
  const badHex = ekmctl(['decode', '--hex'], 'zz');
  t.equal(badHex.status, 2);
  t.match(badHex.stderr, /not hex/);
  const badJson = ekmctl(
    ['encode', '--format', 'json'],
    '{"tag":"RequestMessage","value":[{"tag":"BatchCount","type":"Integer","value":"x"}]}',
  );
  t.equal(badJson.status, 2);
  t.match(badJson.stderr, /^ekmctl kmip encode: \/RequestMessage\/BatchCount: Integer must be/);
  t.equal(badJson.stdout.length, 0, 'nothing written on error');
});

t.test('flags', async (t) => {
  const unknown = ekmctl(['decode', '--nope'], '');
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown option '--nope'/);
  const format = ekmctl(['encode', '--format', 'yaml'], '');
  t.equal(format.status, 2);
  t.match(format.stderr, /--format must be json or xml/);
  const help = ekmctl(['decode', '--help'], '');
  t.equal(help.status, 0);
  t.match(help.stdout.toString(), /Usage: ekmctl kmip decode/);
});
