// Which memo slots a pickle ever reads back, from one linear pass over its
// opcodes: the scanner keeps only those values, so a checkpoint of a
// million tensors does not hold a million tuples until STOP. The pass reads
// as a linear reader does; where CPython's reading differs (frames), a GET of
// a slot this pass did not predict makes the scan start over keeping every
// slot. Opcodes are numeric literals: V8 compares those in a switch faster
// than properties of the Op table.

const MAX_INDEX = 1 << 26;

/** A bit per memo slot read by some GET, or undefined to keep them all (odd or broken pickles). */
export function fetchedMemoSlots(
  data: Uint8Array,
  start: number,
  end: number,
): Uint8Array | undefined {
  let bits = new Uint8Array(1024);
  let occupied = new Uint8Array(1024);
  let count = 0;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const grow = (array: Uint8Array, byte: number) => {
    const grown = new Uint8Array(Math.max(array.length * 2, byte + 1));
    grown.set(array);
    return grown;
  };
  const fetch = (index: number): boolean => {
    if (index > MAX_INDEX) return false;
    const byte = index >>> 3;
    if (byte >= bits.length) bits = grow(bits, byte);
    bits[byte] |= 1 << (index & 7);
    return true;
  };
  const put = (index: number): boolean => {
    if (index > MAX_INDEX) return false;
    const byte = index >>> 3;
    if (byte >= occupied.length) occupied = grow(occupied, byte);
    const bit = 1 << (index & 7);
    if ((occupied[byte] & bit) === 0) {
      occupied[byte] |= bit;
      count++;
    }
    return true;
  };
  const lineEnd = (from: number): number => {
    const found = data.subarray(from, end).indexOf(0x0a);
    return found < 0 ? -1 : from + found;
  };
  const textIndex = (from: number, to: number): number => {
    const text = String.fromCharCode(...data.subarray(from, to));
    return /^\s*\+?\d+(?:_\d+)*\s*$/.test(text) ? Number(text.replaceAll("_", "")) : -1;
  };
  let i = start;
  while (i < end) {
    const op = data[i++];
    switch (op) {
      case 0x2e: // STOP
        return bits;
      case 0x68: // BINGET
        if (i >= end || !fetch(data[i])) return undefined;
        i += 1;
        break;
      case 0x6a: // LONG_BINGET
        if (i + 4 > end || !fetch(view.getUint32(i, true))) return undefined;
        i += 4;
        break;
      case 0x67: // GET
      case 0x70: { // PUT
        const stop = lineEnd(i);
        if (stop < 0) return undefined;
        const index = textIndex(i, stop);
        if (index < 0 || !(op === 0x67 ? fetch(index) : put(index))) return undefined;
        i = stop + 1;
        break;
      }
      case 0x71: // BINPUT
        if (i >= end || !put(data[i])) return undefined;
        i += 1;
        break;
      case 0x72: // LONG_BINPUT
        if (i + 4 > end || !put(view.getUint32(i, true))) return undefined;
        i += 4;
        break;
      case 0x94: // MEMOIZE
        if (!put(count)) return undefined;
        break;
      case 0x80: // PROTO
      case 0x4b: // BININT1
      case 0x82: // EXT1
        i += 1;
        break;
      case 0x4d: // BININT2
      case 0x83: // EXT2
        i += 2;
        break;
      case 0x4a: // BININT
      case 0x84: // EXT4
        i += 4;
        break;
      case 0x47: // BINFLOAT
      case 0x95: // FRAME
        i += 8;
        break;
      case 0x55: // SHORT_BINSTRING
      case 0x43: // SHORT_BINBYTES
      case 0x8c: // SHORT_BINUNICODE
      case 0x8a: // LONG1
        if (i >= end) return undefined;
        i += 1 + data[i];
        break;
      case 0x58: // BINUNICODE
      case 0x54: // BINSTRING
      case 0x42: // BINBYTES
      case 0x8b: // LONG4
        if (i + 4 > end) return undefined;
        i += 4 + view.getUint32(i, true);
        break;
      case 0x8d: // BINUNICODE8
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        if (i + 8 > end) return undefined;
        i += 8 + view.getUint32(i, true) + view.getUint32(i + 4, true) * 2 ** 32;
        break;
      case 0x49: // INT
      case 0x4c: // LONG
      case 0x46: // FLOAT
      case 0x53: // STRING
      case 0x56: // UNICODE
      case 0x50: { // PERSID
        const stop = lineEnd(i);
        if (stop < 0) return undefined;
        i = stop + 1;
        break;
      }
      case 0x63: // GLOBAL
      case 0x69: { // INST
        const first = lineEnd(i);
        const second = first < 0 ? -1 : lineEnd(first + 1);
        if (second < 0) return undefined;
        i = second + 1;
        break;
      }
      case 0x28: // MARK
      case 0x30: // POP
      case 0x31: // POP_MARK
      case 0x32: // DUP
      case 0x4e: // NONE
      case 0x51: // BINPERSID
      case 0x52: // REDUCE
      case 0x61: // APPEND
      case 0x62: // BUILD
      case 0x64: // DICT
      case 0x7d: // EMPTY_DICT
      case 0x65: // APPENDS
      case 0x6c: // LIST
      case 0x5d: // EMPTY_LIST
      case 0x6f: // OBJ
      case 0x73: // SETITEM
      case 0x74: // TUPLE
      case 0x29: // EMPTY_TUPLE
      case 0x75: // SETITEMS
      case 0x81: // NEWOBJ
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: // TUPLE3
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
      case 0x8f: // EMPTY_SET
      case 0x90: // ADDITEMS
      case 0x91: // FROZENSET
      case 0x92: // NEWOBJ_EX
      case 0x93: // STACK_GLOBAL
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** Whether slot `index` is read back according to `bits`. */
export function isFetched(bits: Uint8Array, index: number): boolean {
  const byte = index >>> 3;
  return byte < bits.length && (bits[byte] & (1 << (index & 7))) !== 0;
}
