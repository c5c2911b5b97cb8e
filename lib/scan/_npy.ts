// The header of an .npy file: numpy.load unpickles the data after it when
// the dtype holds Python objects ('O'), and reads raw bytes otherwise.

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export interface NpyHeader {
  /** Where the array data (or the pickle) starts. */
  dataOffset: number;
  /** Whether the dtype holds objects: the data is a pickle. */
  hasObject: boolean;
  /** Why the header cannot be read, when it cannot. */
  error: string | undefined;
}

/** The header of `data` when it starts with the .npy magic; undefined otherwise. */
export function readNpyHeader(data: Uint8Array): NpyHeader | undefined {
  if (data.length < MAGIC.length || MAGIC.some((b, i) => data[i] !== b)) return undefined;
  const broken = (error: string): NpyHeader => ({
    dataOffset: data.length,
    hasObject: false,
    error,
  });
  if (data.length < 10) return broken("truncated");
  const major = data[6];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let length: number;
  let start: number;
  if (major === 1) {
    length = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (data.length < 12) return broken("truncated");
    length = view.getUint32(8, true);
    start = 12;
  } else {
    return broken(`unknown format version ${major}.${data[7]}`);
  }
  if (start + length > data.length) return broken("truncated");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    data.subarray(start, start + length),
  );
  if (!/['"]descr['"]\s*:/.test(header)) return broken("no descr");
  // numpy reads the header with ast.literal_eval, keys in any order: any
  // quoted type code O (plain or a structured field's) counts.
  const hasObject = /['"][<>|=]?O\d*['"]/.test(header);
  return { dataOffset: start + length, hasObject, error: undefined };
}
