// KMIP 2.0/2.1 in the text encodings: 2.x-only tags, types and enumeration values
// (Attributes, Attribute Reference, Date-Time Extended, Process, Ping, Protection Storage
// Masks) round-trip, and version-dependent names follow the header.
import t from 'tap';
import {
  Tag,
  ItemType,
  Operation,
  encodeTtlv,
  decodeTtlv,
  jsonToTtlv,
  ttlvToJson,
  ttlvToXml,
  xmlToTtlv,
  xmlToTtlvList,
  type JsonItem,
} from '../../../src/kmip/ttlv';

const header = (major: number, minor: number) => `
  <RequestHeader>
    <ProtocolVersion>
      <ProtocolVersionMajor type="Integer" value="${major}"/>
      <ProtocolVersionMinor type="Integer" value="${minor}"/>
    </ProtocolVersion>
    <ClientCorrelationValue type="TextString" value="step=0"/>
    <AsynchronousIndicator type="Enumeration" value="Mandatory"/>
    <BatchCount type="Integer" value="4"/>
  </RequestHeader>`;

const request21 = `<KMIP>
<RequestMessage>${header(2, 1)}
  <BatchItem>
    <Operation type="Enumeration" value="Create"/>
    <UniqueBatchItemID type="ByteString" value="01"/>
    <RequestPayload>
      <ObjectType type="Enumeration" value="SymmetricKey"/>
      <Attributes>
        <CryptographicAlgorithm type="Enumeration" value="AES"/>
        <CryptographicLength type="Integer" value="256"/>
        <CryptographicUsageMask type="Integer" value="Decrypt Encrypt"/>
        <Name>
          <NameValue type="TextString" value="master-key"/>
          <NameType type="Enumeration" value="UninterpretedTextString"/>
        </Name>
        <ProtectionStorageMasks>
          <ProtectionStorageMask type="Integer" value="Software Hardware"/>
        </ProtectionStorageMasks>
      </Attributes>
    </RequestPayload>
  </BatchItem>
  <BatchItem>
    <Operation type="Enumeration" value="GetAttributes"/>
    <UniqueBatchItemID type="ByteString" value="02"/>
    <RequestPayload>
      <UniqueIdentifier type="Enumeration" value="IDPlaceholder"/>
      <AttributeReference type="Enumeration" value="State"/>
      <AttributeReference>
        <VendorIdentification type="TextString" value="x"/>
        <AttributeName type="TextString" value="custom"/>
      </AttributeReference>
    </RequestPayload>
  </BatchItem>
  <BatchItem>
    <Operation type="Enumeration" value="SetAttribute"/>
    <UniqueBatchItemID type="ByteString" value="03"/>
    <RequestPayload>
      <UniqueIdentifier type="Integer" value="-1"/>
      <NewAttribute>
        <ActivationDate type="DateTimeExtended" value="2024-01-01T00:00:00.123456+00:00"/>
      </NewAttribute>
    </RequestPayload>
  </BatchItem>
  <BatchItem>
    <Operation type="Enumeration" value="Ping"/>
    <UniqueBatchItemID type="ByteString" value="04"/>
    <RequestPayload/>
  </BatchItem>
</RequestMessage>
</KMIP>`;

function find(j: JsonItem, tag: string): JsonItem[] {
  const out: JsonItem[] = [];
  const walk = (x: JsonItem) => {
    if (x.tag === tag) out.push(x);
    if (Array.isArray(x.value)) x.value.forEach(walk);
  };
  walk(j);
  return out;
}

t.test('a 2.1 batch round-trips through binary, JSON and XML', async (t) => {
  const [msg] = xmlToTtlvList(request21);
  const wire = encodeTtlv(msg!);
  const decoded = decodeTtlv(wire);
  t.same(decoded, msg, 'binary round trip');
  t.same(encodeTtlv(jsonToTtlv(JSON.stringify(ttlvToJson(decoded)))), wire, 'JSON round trip');
  t.same(encodeTtlv(xmlToTtlv(ttlvToXml(decoded))), wire, 'XML round trip');
  const json = ttlvToJson(decoded);
  t.same(
    find(json, 'Operation').map((o) => o.value),
    ['Create', 'GetAttributes', 'SetAttribute', 'Ping'],
  );
  t.equal(find(json, 'AsynchronousIndicator')[0]!.value, 'Mandatory', '2.x enumeration');
  t.equal(
    find(json, 'UniqueIdentifier')[0]!.value,
    'IDPlaceholder',
    'Unique Identifier enumeration',
  );
  t.equal(find(json, 'AttributeReference')[0]!.value, 'State', 'Attribute Reference names a tag');
  t.equal(find(json, 'ProtectionStorageMask')[0]!.value, 'Software|Hardware', 'mask names');
  t.equal(find(json, 'CryptographicUsageMask')[0]!.value, 'Encrypt|Decrypt');
  const when = find(json, 'ActivationDate')[0]!;
  t.same([when.type, when.value], ['DateTimeExtended', '2024-01-01T00:00:00.123456+00:00']);
});

t.test('the same values under a 2.0 header: 2.1-only names fall back to hex', async (t) => {
  const [msg] = xmlToTtlvList(
    request21.replace('value="1"/>\n    </ProtocolVersion>', 'value="0"/>\n    </ProtocolVersion>'),
  );
  const ops = find(ttlvToJson(msg!), 'Operation').map((o) => o.value);
  t.same(ops, ['Create', 'GetAttributes', 'SetAttribute', '0x0000003B'], 'Ping is 2.1');
  const ping = (msg!.value as { tag: number; value: unknown }[]).filter(
    (c) => c.tag === Tag.BatchItem,
  )[3]!;
  t.same(
    (ping.value as { value: unknown }[])[0]!.value,
    Operation.Ping,
    'the value itself is kept',
  );
});

t.test('1.x Asynchronous Indicator is a Boolean and still decodes', async (t) => {
  const xml = `<RequestMessage>
  <RequestHeader>
    <ProtocolVersion>
      <ProtocolVersionMajor type="Integer" value="1"/>
      <ProtocolVersionMinor type="Integer" value="4"/>
    </ProtocolVersion>
    <AsynchronousIndicator type="Boolean" value="true"/>
    <BatchCount type="Integer" value="1"/>
  </RequestHeader>
  <BatchItem>
    <Operation type="Enumeration" value="Query"/>
    <RequestPayload>
      <QueryFunction type="Enumeration" value="QueryOperations"/>
    </RequestPayload>
  </BatchItem>
</RequestMessage>`;
  const msg = xmlToTtlv(xml);
  const hdr = msg.value as { tag: number; value: { tag: number; type: ItemType }[] }[];
  t.equal(hdr[0]!.value[1]!.type, ItemType.Boolean);
  t.same(decodeTtlv(encodeTtlv(msg)), msg);
});
