/**
 * Error classes shared by every layer. Messages follow the form
 * `"Cannot <action>: <state>"` so the CLI can print them as one line.
 *
 * @module
 */

/** Base class of every error ckptkit raises on purpose. */
export class CkptkitError extends Error {
  /** Creates the error with a `"Cannot <action>: <state>"` message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CkptkitError";
  }
}

/** The file is not a well-formed zip archive, or a record cannot be read. */
export class ZipFormatError extends CkptkitError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ZipFormatError";
  }
}

/**
 * The file is a known format that ckptkit does not handle: the legacy
 * (pre-1.6) torch format, the tar format or a TorchScript archive.
 */
export class UnsupportedFormatError extends CkptkitError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsupportedFormatError";
  }
}

/** The pickle stream is malformed or exceeds a safety limit. */
export class PickleError extends CkptkitError {
  /** Byte offset of the opcode that failed, when known. */
  readonly offset: number | undefined;
  /** Creates the error; `offset` points at the failing opcode. */
  constructor(message: string, offset?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "PickleError";
    this.offset = offset;
  }
}

/** The decoded object graph is not a checkpoint ckptkit can write back. */
export class CheckpointError extends CkptkitError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CheckpointError";
  }
}

/** A key looked up with `getItem` or `pop` is not in the dict (Python's `KeyError`). */
export class KeyError extends CkptkitError {
  /** The missing key. */
  readonly key: unknown;
  /** Creates the error for `key`, described by `shown`. */
  constructor(key: unknown, shown: string) {
    super(`Cannot find key ${shown}: not in dict`);
    this.name = "KeyError";
    this.key = key;
  }
}

/** A remote checkpoint cannot be read: HTTP failure or no range support. */
export class RemoteError extends CkptkitError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RemoteError";
  }
}

/**
 * A path names something other than a regular file (a folder, a device, a
 * FIFO, a socket) where ckptkit reads or replaces a file. Opening a FIFO
 * would wait for a writer, and replacing a device node would destroy it.
 */
export class NotAFileError extends CkptkitError {
  /** What the path names, e.g. `"a character device"`. */
  readonly kind: string;
  /** Creates the error for `action` (`"open"`, `"save"`) on a path naming `kind`. */
  constructor(action: string, kind: string, options?: ErrorOptions) {
    super(`Cannot ${action}: it is ${kind}, not a regular file`, options);
    this.name = "NotAFileError";
    this.kind = kind;
  }
}

/** What `info` describes, for messages: `"a regular file"`, `"a FIFO"`, ... */
export function fileKind(info: Deno.FileInfo): string {
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a folder";
  if (info.isSymlink) return "a symbolic link";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isFifo) return "a FIFO";
  if (info.isSocket) return "a socket";
  return "something else";
}
