/**
 * Scans every pickle in a file that torch.load or numpy.load would run: a
 * zip checkpoint's data.pkl (each copy, when names repeat), a TorchScript
 * archive's pickles, the five pickles of a legacy (pre-1.6) file, the
 * pickles of the old tar format, an .npy object array, the .npy records of
 * an .npz, or a bare pickle file, all of whose pickles a reader in a loop
 * would run. Nothing is decoded into values and nothing is run.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";
import { readCentralDirectory } from "../zip/central_directory.ts";
import { findArchivePrefix } from "../zip/detect_format.ts";
import { LEGACY_MAGIC, startsWith, TAR_MAGIC, TAR_MAGIC_OFFSET } from "../zip/_magic.ts";
import { localHeadersFor, openSource } from "../zip/open_source.ts";
import type { RandomAccessSource } from "../zip/source.ts";
import { readNpyHeader } from "./_npy.ts";
import { Report, worse } from "./_report.ts";
import { tarMembers } from "./_tar.ts";
import { listZipRecords, readZipRecord, type ZipRecord } from "./_zip_records.ts";
import { ScanPolicy } from "./policy.ts";
import type { Rating } from "./policy.ts";
import { scanInto, scanOne } from "./scan_pickle.ts";
import type { Finding, Loader, ScanResult, Verdict } from "./scan_result.ts";

/** What {@linkcode scanFile} found the file to be. */
export type FileKind =
  /** A torch.save zip archive: torch.load runs `<folder>/data.pkl`. */
  | "torch-zip"
  /** A torch.jit.save archive: torch.load hands it to torch.jit.load. */
  | "torchscript"
  /** An .npz archive of .npy records. */
  | "npz"
  /** Any other zip archive. */
  | "zip"
  /** torch.save before 1.6 (or without the zip format): five pickles, then raw storages. */
  | "legacy-torch"
  /** The torch <= 0.1.10 tar format. */
  | "tar"
  /** A numpy .npy file. */
  | "npy"
  /** A bare pickle file (one or more pickles). */
  | "pickle"
  /** A zero-byte file. */
  | "empty";

/** One pickle stream of a file and its scan. */
export interface RecordScan {
  /** What it is: a zip record's name, or a description such as `"pickle 4 of 5 (the checkpoint)"`. */
  record: string;
  /** How Python loads it (see {@linkcode ScanOptions.loader}). */
  loader: Loader;
  /** Offset of its first byte in the file, when it is not a zip record. */
  offset: number | undefined;
  /** The scan. */
  result: ScanResult;
}

/** What {@linkcode scanFile} found. */
export interface FileScan {
  /** The file, as given. */
  path: string;
  /** What the file is. */
  format: FileKind;
  /** The worst over every record and finding. */
  verdict: Verdict;
  /** Every pickle stream scanned. */
  records: RecordScan[];
  /** Findings about the file itself: its container, records that cannot be read. */
  findings: Finding[];
}

/** Options of {@linkcode scanFile}. */
export interface ScanFileOptions {
  /** The policy to rate globals with (default: the built-in lists). */
  policy?: ScanPolicy;
  /** For a URL: how long each range request may take, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

const LEGACY_PICKLES = [
  "magic number",
  "protocol version",
  "system info",
  "the checkpoint",
  "storage keys",
];
const LEGACY_MAIN = 3;
const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
// A pickle record larger than this is not read whole (a deflate bomb could
// declare terabytes); the scan of a truncated pickle is then unknown.
const MAX_RECORD = 2 ** 30;
const FIRST_READ = 64 << 20;

/**
 * Scans the file at `path` (a local path or an http(s) URL).
 *
 * @example Scan a checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanFile } from "./scan_file.ts";
 *
 * const scan = await scanFile("tests/fixtures/state_dict.ckpt");
 * assert.equal(scan.format, "torch-zip");
 * assert.equal(scan.verdict, "clean");
 * assert.equal(scan.records[0].record, "state_dict/data.pkl");
 * ```
 */
export async function scanFile(path: string, options: ScanFileOptions = {}): Promise<FileScan> {
  const source = await openSource(path, { timeoutMs: options.timeoutMs });
  try {
    return await scanSource(source, path, options);
  } finally {
    source.close();
  }
}

/** Scans an open source; see {@linkcode scanFile}. */
export async function scanSource(
  source: RandomAccessSource,
  path: string,
  options: ScanFileOptions = {},
): Promise<FileScan> {
  const policy = options.policy ?? ScanPolicy.default;
  const scan = new FileScanner(source, path, policy);
  await scan.run();
  return scan.result();
}

class FileScanner {
  readonly source: RandomAccessSource;
  readonly path: string;
  readonly policy: ScanPolicy;
  format: FileKind = "pickle";
  readonly records: RecordScan[] = [];
  readonly findings: Finding[] = [];

  constructor(source: RandomAccessSource, path: string, policy: ScanPolicy) {
    this.source = source;
    this.path = path;
    this.policy = policy;
  }

  finding(rating: "unknown" | "dangerous", message: string, offset = 0): void {
    this.findings.push({ rating, offset, message });
  }

  result(): FileScan {
    let worst: Rating = "allowed";
    for (const r of this.records) {
      let rating: Rating = r.result.verdict === "clean" ? "allowed" : r.result.verdict;
      // torch.load hands TorchScript archives to torch.jit.load, whose own
      // unpickler resolves TorchScript types only: their pickles are listed,
      // and the archive is unknown (its code/ folder is what runs).
      if (this.format === "torchscript" && rating === "dangerous") rating = "unknown";
      worst = worse(worst, rating);
    }
    for (const f of this.findings) worst = worse(worst, f.rating);
    return {
      path: this.path,
      format: this.format,
      verdict: worst === "allowed" ? "clean" : worst,
      records: this.records,
      findings: this.findings,
    };
  }

  async run(): Promise<void> {
    const size = this.source.size;
    if (size === 0) {
      this.format = "empty";
      this.finding("unknown", "the file is empty: there is nothing to load");
      return;
    }
    const head = await this.source.read(0, Math.min(size, 512));
    if (
      head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4
    ) {
      return await this.zip();
    }
    if (
      head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 5 && head[3] === 6
    ) {
      this.format = "zip";
      this.finding("unknown", "an empty zip archive: torch.load fails on it");
      return;
    }
    if (startsWith(head, NPY_MAGIC)) return await this.npy();
    if (startsWith(head, TAR_MAGIC, TAR_MAGIC_OFFSET)) return await this.tar();
    if (startsWith(head, LEGACY_MAGIC)) return await this.legacy();
    this.format = "pickle";
    const data = await this.source.read(0, size);
    const report = new Report();
    scanInto(
      data,
      0,
      data.length,
      { policy: this.policy, loader: "plain", stream: "all" },
      report,
      0,
    );
    this.records.push({ record: "the file", loader: "plain", offset: 0, result: report.result() });
  }

  // --- zip archives ----------------------------------------------------------

  async zip(): Promise<void> {
    const listing = await listZipRecords(this.source);
    if (listing === undefined) {
      this.format = "zip";
      this.finding(
        "unknown",
        "a zip archive without an end of central directory record: torch.load fails on it",
      );
      return;
    }
    const problems = [...listing.problems];
    const records = listing.records;
    const first = records[0]?.name ?? "";
    const slash = first.indexOf("/");
    const prefix = slash > 0 ? first.slice(0, slash) : undefined;
    const under = (rest: string) =>
      records.filter((r) => prefix !== undefined && r.name === `${prefix}/${rest}`);
    const dataPkl = under("data.pkl");
    const torchScript = under("constants.pkl").length > 0 ||
      records.some((r) => prefix !== undefined && r.name.startsWith(`${prefix}/code/`));
    const npys = records.filter((r) => r.name.endsWith(".npy"));
    this.format = torchScript
      ? "torchscript"
      : dataPkl.length > 0
      ? "torch-zip"
      : npys.length > 0
      ? "npz"
      : "zip";
    if (torchScript) {
      this.finding(
        "unknown",
        "a TorchScript archive: torch.load hands it to torch.jit.load, which compiles and runs the code in its code/ folder",
      );
    }
    if (this.format === "zip") {
      this.finding(
        "unknown",
        records.length === 0
          ? "a zip archive whose central directory lists no readable record: torch.load fails on it"
          : prefix === undefined
          ? "a zip archive whose first record is not in a folder: torch.load fails on it"
          : `a zip archive without ${prefix}/data.pkl: not a torch checkpoint`,
      );
    }
    const names = new Map<string, ZipRecord[]>();
    for (const r of records) {
      if (!r.name.endsWith(".pkl") && !r.name.endsWith(".npy")) continue;
      names.set(r.name, [...(names.get(r.name) ?? []), r]);
    }
    for (const [name, copies] of names) {
      if (copies.length > 1) {
        this.finding(
          "unknown",
          `${copies.length} records are named ${name}: readers disagree on which one they load; each is scanned`,
        );
      }
      const loader: Loader = dataPkl.some((r) => r.name === name) ||
          (torchScript && name.endsWith(".pkl"))
        ? "torch"
        : "plain";
      for (const [i, record] of copies.entries()) {
        const label = copies.length > 1 ? `${name} (copy ${i + 1} of ${copies.length})` : name;
        const data = await readZipRecord(this.source, record, MAX_RECORD, problems);
        if (data === undefined) continue;
        if (name.endsWith(".npy")) this.npyRecord(data, label);
        else this.pickleRecord(data, label, loader);
      }
    }
    for (const problem of problems) this.finding("unknown", problem);
    if (this.format === "torch-zip" && problems.length === 0) {
      // Where ckptkit's own reader refuses the archive, it cannot vouch for it.
      try {
        const directory = await readCentralDirectory(this.source, {
          localHeaders: localHeadersFor(this.source),
        });
        findArchivePrefix(directory);
      } catch (error) {
        if (!(error instanceof CkptkitError)) throw error;
        this.finding("unknown", `ckptkit's reader refuses the archive: ${error.message}`);
      }
    }
  }

  pickleRecord(data: Uint8Array, record: string, loader: Loader): void {
    const report = new Report();
    scanInto(data, 0, data.length, { policy: this.policy, loader }, report, 0);
    this.records.push({ record, loader, offset: undefined, result: report.result() });
  }

  npyRecord(data: Uint8Array, record: string, offset?: number): void {
    const header = readNpyHeader(data);
    const report = new Report();
    if (header === undefined || header.error !== undefined) {
      report.finding("unknown", 0, `not a readable .npy: ${header?.error ?? "no magic"}`);
    } else if (header.hasObject) {
      scanInto(
        data,
        header.dataOffset,
        data.length,
        { policy: this.policy, loader: "plain" },
        report,
        0,
      );
    }
    this.records.push({ record, loader: "plain", offset, result: report.result() });
  }

  // --- other formats ---------------------------------------------------------

  async npy(): Promise<void> {
    this.format = "npy";
    const data = await this.source.read(0, this.source.size);
    this.npyRecord(data, "the array's data", 0);
  }

  async tar(): Promise<void> {
    this.format = "tar";
    const data = await this.source.read(0, this.source.size);
    const members = tarMembers(data);
    const scanned = new Set(["pickle", "sys_info"]);
    for (const m of members) {
      const body = data.subarray(m.offset, m.offset + m.size);
      const main = m.name === "pickle";
      const report = new Report();
      if (scanned.has(m.name)) {
        scanInto(
          body,
          0,
          body.length,
          { policy: this.policy, loader: main ? "torch-legacy" : "plain" },
          report,
          0,
        );
      } else {
        // storages and tensors: a count, then records that interleave
        // pickles with raw bytes; the first pickle is scanned.
        scanOne(body, 0, body.length, { policy: this.policy, loader: "plain" }, report);
        report.finding(
          "unknown",
          0,
          `the old tar format's ${
            JSON.stringify(m.name)
          } member interleaves pickles with raw bytes: only its first pickle is scanned`,
        );
      }
      this.records.push({
        record: m.name,
        loader: main ? "torch-legacy" : "plain",
        offset: m.offset,
        result: report.result(),
      });
    }
    if (!members.some((m) => m.name === "pickle")) {
      this.finding("unknown", "a tar archive without the 'pickle' member: not a torch checkpoint");
    }
  }

  /**
   * The legacy format: torch.load runs five pickles in a row (magic number,
   * protocol, system info, the checkpoint, storage keys), then reads raw
   * storage bytes. Each starts where the previous one's reader stopped.
   */
  async legacy(): Promise<void> {
    this.format = "legacy-torch";
    const size = this.source.size;
    for (let length = Math.min(size, FIRST_READ);; length = Math.min(size, length * 2)) {
      const data = await this.source.read(0, length);
      const done = this.legacyPickles(data, length === size);
      if (done || length === size) return;
      this.records.length = 0;
    }
  }

  /** Scans the five pickles; false when they run past `data` and more of the file is needed. */
  legacyPickles(data: Uint8Array, whole: boolean): boolean {
    let starts = [0];
    for (let i = 0; i < LEGACY_PICKLES.length && starts.length > 0; i++) {
      const loader: Loader = i === LEGACY_MAIN ? "torch-legacy" : "plain";
      const next = new Set<number>();
      for (const start of starts) {
        if (start >= data.length && !whole) return false;
        const report = new Report();
        const after = scanOne(data, start, data.length, { policy: this.policy, loader }, report);
        if (after.length === 0 && !whole && /truncated|Ran out of input/.test(report.error ?? "")) {
          return false;
        }
        this.records.push({
          record: `pickle ${i + 1} of 5 (${LEGACY_PICKLES[i]})`,
          loader,
          offset: start,
          result: report.result(),
        });
        for (const n of after) next.add(n);
      }
      starts = [...next];
    }
    return true;
  }
}
