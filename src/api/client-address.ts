// Whom the API's limits count a client as: its IPv4 address, or the /64 network of its
// IPv6 address (one host usually holds a whole /64, so counting addresses within it would
// let it multiply its share). An IPv4-mapped IPv6 address counts as the IPv4 address.
import { isIPv4, isIPv6 } from 'node:net';

export function clientSource(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4;
  const groups = isIPv6(address) ? ipv6Groups(address) : undefined;
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : address;
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] | undefined {
  const [plain] = address.split('%'); // a zone index names an interface, not a host
  const halves = plain.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): string[] => {
    if (!part) return [];
    const words = part.split(':');
    const last = words[words.length - 1];
    if (isIPv4(last)) {
      const [a, b, c, d] = last.split('.').map(Number);
      words.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    }
    return words;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(zeros).fill('0'), ...tail];
  return groups.length === 8 ? groups.map((g) => parseInt(g, 16).toString(16)) : undefined;
}
