// ISO 8601 spellings of Date-Time (seconds) and Date-Time Extended (microseconds) for the
// text encodings. Values outside what an ISO date can spell are left to the caller.

/** Largest |ms| a JS Date holds. */
const MAX_MS = 8.64e15;

/** `2024-01-01T00:00:00+00:00`, or `…T00:00:00.000001+00:00` with micros; undefined if out of range. */
export function formatIsoUtc(value: bigint, micros: boolean): string | undefined {
  const unit = micros ? 1_000_000n : 1n;
  let secs = value / unit;
  let frac = value % unit;
  if (frac < 0n) {
    frac += unit;
    secs -= 1n;
  }
  const ms = Number(secs) * 1000;
  if (!Number.isSafeInteger(ms) || Math.abs(ms) > MAX_MS) return undefined;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z (or ±YYYYYY-…)
  const base = iso.slice(0, iso.indexOf('.'));
  const fraction = micros ? '.' + frac.toString().padStart(6, '0') : '';
  return `${base}${fraction}+00:00`;
}

const ISO =
  /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parse an ISO 8601 date-time with a zone (`Z` or `±HH:MM`) to seconds, or micros when
 * `micros`; undefined when malformed or when sub-unit digits would be lost.
 */
export function parseIso(text: string, micros: boolean): bigint | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fracDigits = '', zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  const check = new Date(ms);
  if (check.getUTCDate() !== Number(d) || check.getUTCHours() !== Number(h)) return undefined;
  let secs = BigInt(ms / 1000);
  if (zone !== 'Z') {
    const sign = zone![0] === '-' ? -1n : 1n;
    const offset = BigInt(Number(zone!.slice(1, 3)) * 3600 + Number(zone!.slice(4, 6)) * 60);
    secs -= sign * offset;
  }
  if (!micros) {
    return /^0*$/.test(fracDigits) ? secs : undefined;
  }
  const padded = fracDigits.padEnd(6, '0');
  if (!/^0*$/.test(padded.slice(6))) return undefined;
  return secs * 1_000_000n + BigInt(padded.slice(0, 6));
}
