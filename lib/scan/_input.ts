// The bytes an unpickler reads, read as CPython's C unpickler reads them.
//
// Over a file object without peek() (io.BytesIO: torch.load's zip path), the
// C reader's buffer is exactly what the last read() returned. After FRAME n
// it is the frame's n bytes; a fixed-size read that does not fit drops the
// rest of the frame and reads on from the file after it, a line read without
// a newline in the frame drops the partial line and reads a whole line from
// the file, and bulk reads (BINBYTES, BYTEARRAY8) take the rest of the frame
// then continue after it. Over bytes (pickle.loads) reads are linear and
// frames only have to fit in the data. Both are modelled here; the places
// where they disagree, and where ckptkit's own decoder (which enforces frame
// boundaries) disagrees with either, are reported to `onFrame`.

/** How an unpickler reads its input. */
export type InputMode = "stream" | "bytes";

/** A read that fails the way CPython's does; the unpickler stops there. */
export class StreamError extends Error {
  /** Offset of the opcode that failed. */
  readonly offset: number;
  /** Creates the error. */
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/** A place where readers disagree about the bytes at a frame boundary. */
export interface FrameEvent {
  /** `"dropped"`: CPython skips bytes a linear reader reads; `"crossed"`: the bytes agree but the frame boundary is crossed. */
  kind: "dropped" | "crossed";
  /** Offset of the opcode. */
  opcode: number;
  /** What happened, for the report. */
  detail: string;
}

const NEWLINE = 0x0a;

export class PickleInput {
  readonly data: Uint8Array;
  readonly view: DataView;
  readonly end: number;
  readonly mode: InputMode;
  /** Next byte the unpickler reads. */
  pos: number;
  /** End of the reader's buffer: the file position (stream), or `end` (bytes). */
  bufEnd: number;
  /** Offset of the opcode being read, for errors and events. */
  opcode = 0;
  /** End of the frame the current opcode started in; -1 outside frames. */
  opFrameEnd = -1;
  onFrame: ((event: FrameEvent) => void) | undefined;

  constructor(data: Uint8Array, start: number, end: number, mode: InputMode) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.end = end;
    this.mode = mode;
    this.pos = start;
    this.bufEnd = mode === "stream" ? start : end;
  }

  /** Starts an opcode at the read position. */
  begin(): number {
    const at = this.pos;
    this.opcode = at;
    this.opFrameEnd = this.mode === "stream" && at < this.bufEnd ? this.bufEnd : -1;
    return at;
  }

  fail(message: string): never {
    throw new StreamError(message, this.opcode);
  }

  truncated(): never {
    this.fail("pickle data was truncated");
  }

  /** Reads `n` bytes; returns where they start. */
  read(n: number): number {
    const at = this.pos;
    if (at + n <= this.bufEnd) {
      this.pos = at + n;
      return at;
    }
    if (this.mode === "bytes") this.truncated();
    this.#leave(`its ${n}-byte argument`);
    const from = this.bufEnd;
    if (from + n > this.end) this.truncated();
    this.bufEnd = this.pos = from + n;
    return from;
  }

  /** Reads `n` bytes as BINBYTES and BYTEARRAY8 do: the rest of the buffer, then the file. */
  readInto(n: number): number {
    const at = this.pos;
    if (at + n <= this.bufEnd) {
      this.pos = at + n;
      return at;
    }
    if (this.mode === "bytes") this.truncated();
    if (this.opFrameEnd >= 0) {
      this.#crossed(
        `its ${n}-byte argument runs past the end of the frame at offset ${this.bufEnd}`,
      );
    }
    const to = at + n;
    if (to > this.end) this.truncated();
    this.bufEnd = this.pos = to;
    return at;
  }

  /** Reads a line; returns its start and the offset of its newline. */
  readLine(): [number, number] {
    const at = this.pos;
    const newline = indexOf(this.data, NEWLINE, at, this.bufEnd);
    if (newline >= 0) {
      this.pos = newline + 1;
      return [at, newline];
    }
    if (this.mode === "bytes") this.truncated();
    this.#leave("its line argument");
    const from = this.bufEnd;
    const next = indexOf(this.data, NEWLINE, from, this.end);
    if (next < 0) this.truncated();
    this.bufEnd = this.pos = next + 1;
    return [from, next];
  }

  /** FRAME of `n` bytes (after its 8-byte length was read). */
  frame(n: number): void {
    const at = this.pos;
    if (at + n <= this.bufEnd) {
      if (this.mode === "stream" && at < this.bufEnd) {
        this.onFrame?.({
          kind: "crossed",
          opcode: this.opcode,
          detail: `a FRAME opens inside the frame that ends at offset ${this.bufEnd}`,
        });
      }
      return;
    }
    if (this.mode === "bytes") this.truncated();
    this.#leave("the frame it opens");
    const from = this.bufEnd;
    if (from + n > this.end) this.truncated();
    this.pos = from;
    this.bufEnd = from + n;
  }

  /** Where the next pickle of the same file starts after a STOP (stream: the file position). */
  get filePosition(): number {
    return this.mode === "stream" ? this.bufEnd : this.pos;
  }

  /** A read that does not fit the buffer: CPython drops what is left of the frame. */
  #leave(what: string): void {
    if (this.pos < this.bufEnd) {
      this.onFrame?.({
        kind: "dropped",
        opcode: this.opcode,
        detail: `${what} runs past the end of the frame at offset ${this.bufEnd}: ` +
          `CPython's unpickler over a file drops bytes ${this.pos}-${
            this.bufEnd - 1
          } and reads on after the frame, a linear reader reads them`,
      });
      this.opFrameEnd = -1;
    } else if (this.opFrameEnd >= 0) {
      this.#crossed(`${what} continues after the end of the frame at offset ${this.bufEnd}`);
    }
  }

  #crossed(detail: string): void {
    this.onFrame?.({ kind: "crossed", opcode: this.opcode, detail });
    this.opFrameEnd = -1;
  }
}

function indexOf(data: Uint8Array, byte: number, from: number, to: number): number {
  const found = data.subarray(from, to).indexOf(byte);
  return found < 0 ? -1 : from + found;
}
