// The one error type the codec throws: framing and text-encoding faults name the byte
// offset (or -1 when there is none, as in the text encodings) and the tag they hit.

export class TtlvError extends Error {
  override name = 'TtlvError';
  /** Byte offset of the offending item in the input, or -1 when not applicable. */
  readonly offset: number;
  /** Tag of the offending item, or -1 when it could not be read. */
  readonly tag: number;

  constructor(message: string, offset = -1, tag = -1) {
    const where = offset >= 0 ? ` at offset ${offset}` : '';
    const what = tag >= 0 ? ` (tag 0x${tag.toString(16).padStart(6, '0')})` : '';
    super(`${message}${where}${what}`);
    this.offset = offset;
    this.tag = tag;
  }
}
