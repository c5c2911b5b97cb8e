// Record signatures and fixed sizes of the zip format (APPNOTE.TXT section 4.3).

export const LOCAL_HEADER_SIGNATURE = 0x04034b50;
export const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
export const END_SIGNATURE = 0x06054b50;
export const ZIP64_END_SIGNATURE = 0x06064b50;
export const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
export const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const END_SIZE = 22;
export const ZIP64_END_SIZE = 56;
export const ZIP64_LOCATOR_SIZE = 20;

export const ZIP64_EXTRA_ID = 0x0001;
/** Extra field id `"FB"` that torch fills with `Z` bytes to align record data. */
export const TORCH_PADDING_EXTRA_ID = 0x4246;

export const MAX_UINT16 = 0xffff;
export const MAX_UINT32 = 0xffffffff;

export const FLAG_ENCRYPTED = 0x0001;
export const FLAG_DATA_DESCRIPTOR = 0x0008;
export const FLAG_STRONG_ENCRYPTION = 0x0040;
export const FLAG_UTF8 = 0x0800;

export const METHOD_STORED = 0;
export const METHOD_DEFLATED = 8;

/** Reads a little-endian 64-bit field as a number; zip offsets never reach 2^53. */
export function getUint64(view: DataView, offset: number): number {
  return Number(view.getBigUint64(offset, true));
}

/** Writes a little-endian 64-bit field from a number. */
export function setUint64(view: DataView, offset: number, value: number): void {
  view.setBigUint64(offset, BigInt(value), true);
}

/** Wraps `bytes` in a little-endian DataView over the same memory. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
