// Tag and enumeration tables: spec spellings (as the KMIP XML/JSON encodings normalise
// them), version gating, masks, and internal consistency.
import t from 'tap';
import * as ttlv from '../../../src/kmip/ttlv';
import {
  Tag,
  tagName,
  tagNumber,
  enumName,
  enumValue,
  maskNames,
  maskValue,
  hasEnumeration,
  isMaskTag,
} from '../../../src/kmip/ttlv';

const v = (major: number, minor: number) => ({ major, minor });

t.test('tags', async (t) => {
  t.equal(Tag.RequestMessage, 0x420078);
  t.equal(Tag.UniqueIdentifier, 0x420094);
  t.equal(Tag.SecretData, 0x420085);
  t.equal(Tag.AsynchronousCorrelationValues, 0x420176, 'KMIP 2.1 tags present');
  t.equal(tagName(0x42003d), 'IVCounterNonce', '"IV/Counter/Nonce" normalised');
  t.equal(tagName(0x4200b5), 'X_509CertificateIdentifier');
  t.equal(tagName(0x54ffff), undefined);
  t.equal(tagNumber('0x540001'), 0x540001, 'hex spelling accepted');
  t.equal(tagNumber('toString'), undefined, 'no prototype names');
  const values = Object.values(Tag);
  t.equal(new Set(values).size, values.length, 'tag numbers are unique');
  t.ok(
    values.every((n) => n >>> 16 === 0x42),
    'all standard tags are 0x42xxxx',
  );
});

t.test('enumeration spellings follow the spec', async (t) => {
  const cases: Array<[number, number, string]> = [
    [Tag.Operation, 0x04, 'ReKey'],
    [Tag.Operation, 0x1e, 'DiscoverVersions'],
    [Tag.Operation, 0x35, 'ReProvision'],
    [Tag.ObjectType, 0x08, 'OpaqueObject'],
    [Tag.CryptographicAlgorithm, 0x02, 'DES3'],
    [Tag.CryptographicAlgorithm, 0x09, 'HMAC_SHA256'],
    [Tag.KeyFormatType, 0x03, 'PKCS_1'],
    [Tag.KeyFormatType, 0x05, 'X_509'],
    [Tag.HashingAlgorithm, 0x0c, 'SHA_512_224'],
    [Tag.DigitalSignatureAlgorithm, 0x03, 'SHA_1WithRSAEncryption'],
    [Tag.State, 0x01, 'PreActive'],
    [Tag.RevocationReasonCode, 0x06, 'CessationOfOperation'],
    [Tag.ResultReason, 0x01, 'ItemNotFound'],
    [Tag.ResultReason, 0x100, 'GeneralFailure'],
    [Tag.SecretDataType, 0x01, 'Password'],
    [Tag.NameType, 0x01, 'UninterpretedTextString'],
    [Tag.QueryFunction, 0x08, 'QueryRNGs'],
    [Tag.LinkType, 0x10c, 'PKCS_12CertificateLink'],
    [Tag.PaddingMethod, 0x08, 'PKCS1V1_5'],
    [Tag.SplitKeyMethod, 0x04, 'PolynomialSharingGF2_8'],
    [Tag.ProfileName, 0x11c, 'StorageArrayWithSelfEncryptingDriveClient'],
    [Tag.MaskGeneratorHashingAlgorithm, 0x06, 'SHA_256'],
  ];
  for (const [tag, value, name] of cases) {
    t.equal(enumName(tag, value), name, `${tagName(tag)} 0x${value.toString(16)}`);
    t.equal(enumValue(tag, name), value, `${name} reads back`);
  }
  t.equal(enumName(Tag.Operation, 0x7fff), undefined, 'unknown value');
  t.equal(enumName(Tag.BatchCount, 1), undefined, 'not an enumeration tag');
  t.equal(enumValue(Tag.Operation, 'constructor'), undefined, 'no prototype names');
});

t.test('names are gated by KMIP version', async (t) => {
  t.equal(enumName(Tag.Operation, 0x1e, v(1, 0)), undefined, 'Discover Versions is 1.1');
  t.equal(enumName(Tag.Operation, 0x1e, v(1, 1)), 'DiscoverVersions');
  t.equal(enumName(Tag.ObjectType, 0x09, v(1, 1)), undefined, 'PGP Key is 1.2');
  t.equal(enumName(Tag.ObjectType, 0x06, v(1, 4)), 'Template');
  t.equal(enumName(Tag.ObjectType, 0x06, v(2, 0)), undefined, 'Template is reserved in 2.0');
  t.equal(
    enumName(Tag.ResultReason, 0x0b, v(2, 1)),
    undefined,
    'Illegal Operation reserved in 2.x',
  );
  t.equal(enumName(Tag.Operation, 0x3b, v(2, 0)), undefined, 'Ping is 2.1');
  t.equal(enumName(Tag.Operation, 0x3b, v(2, 1)), 'Ping');
  t.equal(enumValue(Tag.Operation, 'Ping', v(2, 0)), undefined);
});

t.test('masks', async (t) => {
  t.ok(isMaskTag(Tag.CryptographicUsageMask));
  t.ok(isMaskTag(Tag.StorageStatusMask));
  t.notOk(isMaskTag(Tag.Operation));
  t.same(maskNames(Tag.CryptographicUsageMask, 0x0c), ['Encrypt', 'Decrypt']);
  t.same(maskNames(Tag.StorageStatusMask, 3), ['OnLineStorage', 'ArchivalStorage']);
  t.equal(maskNames(Tag.CryptographicUsageMask, 0x40000000), undefined, 'unnamed bit');
  t.equal(maskNames(Tag.StorageStatusMask, 4, v(1, 4)), undefined, 'Destroyed Storage is 2.0');
  t.equal(maskValue(Tag.CryptographicUsageMask, ['Sign', 'Verify', 'CRLSign']), 0x2003);
  t.equal(maskValue(Tag.CryptographicUsageMask, ['Fly']), undefined);
  t.equal(enumName(Tag.CryptographicUsageMask, 4), undefined, 'a mask is not an enumeration');
});

t.test('every enumeration object is consistent', async (t) => {
  const objects = Object.entries(ttlv).filter(
    ([name, o]) =>
      typeof o === 'object' &&
      o !== null &&
      name !== 'Tag' &&
      name !== 'LATEST_VERSION' &&
      !Array.isArray(o) &&
      Object.values(o).every((x) => typeof x === 'number'),
  ) as Array<[string, Record<string, number>]>;
  t.ok(objects.length > 50, `${objects.length} enumerations exported`);
  for (const [name, o] of objects) {
    const values = Object.values(o);
    if (new Set(values).size !== values.length) t.fail(`${name} has duplicate values`);
    if (!values.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff))
      t.fail(`${name} value out of range`);
  }
  t.ok(hasEnumeration(Tag.Operation));
  t.ok(hasEnumeration(Tag.ProcessingStage));
});
