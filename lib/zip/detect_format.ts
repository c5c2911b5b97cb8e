/**
 * Tells torch zip checkpoints apart from the other files a user may pass:
 * legacy torch pickles, the old tar format, TorchScript archives, other zips.
 *
 * @module
 */

import { UnsupportedFormatError, ZipFormatError } from "../errors.ts";
import {
  readCentralDirectory,
  type ReadDirectoryOptions,
  type ZipDirectory,
} from "./central_directory.ts";
import type { RandomAccessSource } from "./source.ts";
import { LEGACY_MAGIC, startsWith, TAR_MAGIC, TAR_MAGIC_OFFSET } from "./_magic.ts";

/** What {@linkcode detectFormat} found. */
export type FileFormat =
  /** A torch.save zip archive (`<dir>/data.pkl`). */
  | "torch-zip"
  /** A torch.jit.save archive (`<dir>/constants.pkl` or `<dir>/code/`). */
  | "torchscript"
  /** A zip archive that is neither of the above. */
  | "zip"
  /** torch.save before 1.6 (or with `_use_new_zipfile_serialization=False`). */
  | "legacy-torch"
  /** The preview-release archive starting with `PYTORCH1`. */
  | "preview-torch"
  /** A tar archive, as written by the oldest torch versions. */
  | "tar"
  /** A zero-byte file. */
  | "empty"
  /** Anything else. */
  | "unknown";

/** A torch zip checkpoint located by {@linkcode assertTorchZip}. */
export interface TorchArchive {
  /** The validated central directory. */
  directory: ZipDirectory;
  /** The folder holding every record, e.g. `"archive"`. */
  prefix: string;
}

const PREVIEW_MAGIC = new TextEncoder().encode("PYTORCH1");
const HEAD_SIZE = 512;

function isZipSignature(head: Uint8Array): boolean {
  // A local header, or the end record of an archive without entries.
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

function isTorchScript(directory: ZipDirectory): boolean {
  return directory.entries.some(({ name }) => {
    const slash = name.indexOf("/");
    if (slash < 0) return false;
    const rest = name.slice(slash + 1);
    return rest === "constants.pkl" || rest.startsWith("code/");
  });
}

interface Classified {
  format: FileFormat;
  head: Uint8Array;
  directory?: ZipDirectory;
  prefix?: string;
  prefixError?: ZipFormatError;
}

async function classify(
  source: RandomAccessSource,
  options: ReadDirectoryOptions = {},
): Promise<Classified> {
  if (source.size === 0) return { format: "empty", head: new Uint8Array() };
  const head = await source.read(0, Math.min(HEAD_SIZE, source.size));
  if (startsWith(head, LEGACY_MAGIC)) return { format: "legacy-torch", head };
  if (startsWith(head, PREVIEW_MAGIC)) return { format: "preview-torch", head };
  if (startsWith(head, TAR_MAGIC, TAR_MAGIC_OFFSET)) return { format: "tar", head };
  if (!isZipSignature(head)) return { format: "unknown", head };
  const directory = await readCentralDirectory(source, options);
  if (isTorchScript(directory)) return { format: "torchscript", head, directory };
  let prefix: string;
  try {
    prefix = findArchivePrefix(directory);
  } catch (error) {
    if (!(error instanceof ZipFormatError)) throw error;
    return { format: "zip", head, directory, prefixError: error };
  }
  const hasPickle = directory.entries.some(({ name }) => name === `${prefix}/data.pkl`);
  return { format: hasPickle ? "torch-zip" : "zip", head, directory, prefix };
}

/**
 * Classifies a file by its leading bytes and, for zip archives, by the names
 * of its records.
 *
 * @param source The file bytes.
 * @returns The detected format.
 * @throws {ZipFormatError} when the file looks like a zip archive but its
 * central directory is malformed.
 */
export async function detectFormat(source: RandomAccessSource): Promise<FileFormat> {
  return (await classify(source)).format;
}

/**
 * Checks that `source` is a torch.save zip checkpoint and returns its
 * validated directory and record folder.
 *
 * @example Opening a checkpoint
 * ```ts ignore
 * import { FileSource } from "./source.ts";
 * import { assertTorchZip } from "./detect_format.ts";
 * const source = await FileSource.open("model.ckpt");
 * const { directory, prefix } = await assertTorchZip(source);
 * ```
 *
 * @param source The file bytes.
 * @param options How to read the central directory (see {@linkcode ReadDirectoryOptions}).
 * @returns The central directory and the folder name of the records.
 * @throws {UnsupportedFormatError} for the legacy (pre-1.6) format, the
 * preview format, the tar format and TorchScript archives.
 * @throws {ZipFormatError} for an empty file, a file that is not a zip
 * archive, a malformed zip, or a zip without `<dir>/data.pkl`.
 */
export async function assertTorchZip(
  source: RandomAccessSource,
  options: ReadDirectoryOptions = {},
): Promise<TorchArchive> {
  const found = await classify(source, options);
  switch (found.format) {
    case "torch-zip":
      return { directory: found.directory!, prefix: found.prefix! };
    case "empty":
      throw new ZipFormatError("Cannot read checkpoint: file is empty");
    case "legacy-torch":
      throw new UnsupportedFormatError(
        "Cannot read checkpoint: file uses the legacy torch format (before 1.6), which only 'scan' reads; loading it in Python (also to re-save it) runs whatever its pickles hold",
      );
    case "preview-torch":
      throw new UnsupportedFormatError(
        "Cannot read checkpoint: file uses the PYTORCH1 preview-release format",
      );
    case "tar":
      throw new UnsupportedFormatError(
        "Cannot read checkpoint: file is a tar archive (the old torch tar format), which only 'scan' reads; loading it in Python (also to re-save it) runs whatever its pickles hold",
      );
    case "torchscript":
      throw new UnsupportedFormatError(
        "Cannot read checkpoint: archive is a TorchScript model, not a checkpoint; load it with torch.jit.load",
      );
    case "zip":
      if (found.prefixError !== undefined) throw found.prefixError;
      throw new ZipFormatError(
        `Cannot read checkpoint: zip archive has no ${
          JSON.stringify(`${found.prefix}/data.pkl`)
        } record`,
      );
    case "unknown": {
      const bytes = Array.from(found.head.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
      throw new ZipFormatError(
        `Cannot read checkpoint: file is not a zip archive (starts with 0x${bytes.join("")})`,
      );
    }
  }
}

/**
 * Returns the folder that holds every record of a torch archive (torch writes
 * all records under one folder, e.g. `last/data.pkl`).
 *
 * @param directory The archive's central directory.
 * @returns The folder name, without a slash.
 * @throws {ZipFormatError} when the archive is empty, its first record is not
 * in a folder, or any record lies outside that folder.
 */
export function findArchivePrefix(directory: ZipDirectory): string {
  const [first] = directory.entries;
  if (first === undefined) {
    throw new ZipFormatError("Cannot read checkpoint: archive has no records");
  }
  const slash = first.name.indexOf("/");
  if (slash <= 0) {
    throw new ZipFormatError(
      `Cannot read checkpoint: record ${JSON.stringify(first.name)} is not inside a folder`,
    );
  }
  const prefix = first.name.slice(0, slash);
  for (const { name } of directory.entries) {
    if (!name.startsWith(`${prefix}/`)) {
      throw new ZipFormatError(
        `Cannot read checkpoint: record ${JSON.stringify(name)} is outside the archive folder ${
          JSON.stringify(prefix)
        }`,
      );
    }
  }
  return prefix;
}
