// Copies the elements of one strided layout into another, a whole element
// at a time through 32-, 16- or 8-bit words (never through floats, which
// may change NaN bits, nor BigInts, which allocate).

/** A strided placement: element offset and per-dimension strides, in elements. */
export interface Placement {
  offset: number;
  stride: readonly number[];
}

/**
 * Copies every element of `shape` from `src` (placed by `from`) to `dst`
 * (placed by `to`); offsets and strides are in elements of `itemsize` bytes.
 */
export function copyStrided(
  shape: readonly number[],
  itemsize: number,
  src: Uint8Array,
  from: Placement,
  dst: Uint8Array,
  to: Placement,
): void {
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel === 0) return;
  const [word, words] = wordsOf(itemsize, src, dst);
  const s = view(src, word);
  const d = view(dst, word);
  const ndim = shape.length;
  if (ndim === 0) {
    copyElement(s, from.offset * words, d, to.offset * words, words);
    return;
  }
  const last = ndim - 1;
  const n = shape[last];
  const srcStep = from.stride[last] * words;
  const dstStep = to.stride[last] * words;
  const index = new Array<number>(last).fill(0);
  let srcRow = from.offset;
  let dstRow = to.offset;
  for (let rows = numel / n; rows > 0; rows--) {
    let a = srcRow * words;
    let b = dstRow * words;
    if (srcStep === words && dstStep === words) {
      d.set(s.subarray(a, a + n * words), b);
    } else if (words === 1) {
      for (let j = 0; j < n; j++, a += srcStep, b += dstStep) d[b] = s[a];
    } else {
      for (let j = 0; j < n; j++, a += srcStep, b += dstStep) copyElement(s, a, d, b, words);
    }
    // Next row: advance the outer index like an odometer.
    for (let k = last - 1; k >= 0; k--) {
      srcRow += from.stride[k];
      dstRow += to.stride[k];
      if (++index[k] < shape[k]) break;
      srcRow -= from.stride[k] * shape[k];
      dstRow -= to.stride[k] * shape[k];
      index[k] = 0;
    }
  }
}

function copyElement(
  s: Uint8Array | Uint16Array | Uint32Array,
  a: number,
  d: Uint8Array | Uint16Array | Uint32Array,
  b: number,
  words: number,
): void {
  for (let w = 0; w < words; w++) d[b + w] = s[a + w];
}

/** The widest word both arrays are aligned to that divides an element, and words per element. */
function wordsOf(itemsize: number, src: Uint8Array, dst: Uint8Array): [number, number] {
  for (const word of [4, 2]) {
    if (
      itemsize % word === 0 && src.byteOffset % word === 0 && dst.byteOffset % word === 0 &&
      src.length % word === 0 && dst.length % word === 0
    ) {
      return [word, itemsize / word];
    }
  }
  return [1, itemsize];
}

function view(bytes: Uint8Array, word: number): Uint8Array | Uint16Array | Uint32Array {
  if (word === 4) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  if (word === 2) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  return bytes;
}
