// The members of a tar archive (the torch <= 0.1.10 format), as Python's
// tarfile names them: ustar headers, with PAX "path" records applied.

export interface TarMember {
  name: string;
  /** Offset of the member's data. */
  offset: number;
  size: number;
}

const BLOCK = 512;
const latin1 = new TextDecoder("latin1");

function field(data: Uint8Array, start: number, length: number): string {
  const bytes = data.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return latin1.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** The regular members of `data`; stops at the end marker or the first damaged header. */
export function tarMembers(data: Uint8Array): TarMember[] {
  const members: TarMember[] = [];
  let pending: string | undefined;
  for (let at = 0; at + BLOCK <= data.length;) {
    if (data.subarray(at, at + BLOCK).every((b) => b === 0)) break;
    const size = parseInt(field(data, at + 124, 12).trim() || "0", 8);
    if (!Number.isSafeInteger(size) || size < 0) break;
    const type = String.fromCharCode(data[at + 156]);
    const prefix = field(data, at + 345, 155);
    const name = prefix === "" ? field(data, at + 0, 100) : `${prefix}/${field(data, at, 100)}`;
    const offset = at + BLOCK;
    if (type === "x") {
      const records = new TextDecoder().decode(data.subarray(offset, offset + size));
      pending = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(records)?.[1] ?? pending;
    } else if (type === "0" || type === "\0") {
      members.push({ name: pending ?? name, offset, size: Math.min(size, data.length - offset) });
      pending = undefined;
    } else pending = undefined;
    at = offset + Math.ceil(size / BLOCK) * BLOCK;
  }
  return members;
}
