// The leading bytes that tell torch's older file formats apart, shared by
// format detection and the scanner.

/**
 * Pickle protocol 2 (PROTO 2), then LONG1 of 10 bytes holding torch's legacy
 * magic number 0x1950a86a20f9469cfc6c in little-endian order.
 */
export const LEGACY_MAGIC: readonly number[] = [
  0x80,
  0x02,
  0x8a,
  0x0a,
  0x6c,
  0xfc,
  0x9c,
  0x46,
  0xf9,
  0x20,
  0x6a,
  0xa8,
  0x50,
  0x19,
];

/** "ustar", at {@linkcode TAR_MAGIC_OFFSET} of a POSIX tar archive. */
export const TAR_MAGIC: readonly number[] = [0x75, 0x73, 0x74, 0x61, 0x72];
export const TAR_MAGIC_OFFSET = 257;

/** True when `bytes` holds `prefix` at `at`. */
export function startsWith(bytes: Uint8Array, prefix: ArrayLike<number>, at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}
