// Byte ranges of local files copied into the file being written inside the
// kernel (copy_file_range): the bytes never cross into this process, which
// halves the system time of a storage copy against read + write. On NFS or
// CIFS the server may copy them; on XFS and btrfs, block-aligned ranges may
// be shared instead of copied.
//
// Anything the call refuses (EXDEV across filesystems, EINVAL, ENOSYS,
// EOPNOTSUPP, EBADF, an I/O error...) leaves the range to the writer's
// user-space copy, which reads through the source's own handle and reports
// any real error in its own words; that source is not tried again.

import {
  isSameFile,
  type Libc,
  libc,
  O_NOFOLLOW,
  O_RDONLY,
  O_WRONLY,
  openDescriptor,
} from "../_libc.ts";
import { FileSource, type RandomAccessSource } from "./source.ts";

/** What {@linkcode TorchZipWriter} asks of a kernel copier. */
export interface RangeCopier {
  /**
   * Copies up to `length` bytes of `source` at `from` to the written file
   * at `to`; returns how many were copied, 0 when the writer must copy
   * them itself.
   */
  copyRange(source: RandomAccessSource, from: number, to: number, length: number): number;
}

const REFUSED = -1;

/** A {@linkcode RangeCopier} into one open file, by copy_file_range. */
export class KernelRangeCopier implements RangeCopier {
  #libc: Libc;
  #copy: NonNullable<Libc["copy_file_range"]>;
  #target: number;
  #sources = new Map<RandomAccessSource, number>();
  #offsets = new BigInt64Array(2);
  #in = new BigInt64Array(this.#offsets.buffer, 0, 1);
  #out = new BigInt64Array(this.#offsets.buffer, 8, 1);

  private constructor(lib: Libc, copy: NonNullable<Libc["copy_file_range"]>, target: number) {
    this.#libc = lib;
    this.#copy = copy;
    this.#target = target;
  }

  /**
   * A copier into `file`, open at `path`, or undefined where the kernel
   * cannot be asked (not Linux, no FFI permission, an old glibc) or `path`
   * no longer names `file`.
   */
  static open(file: Deno.FsFile, path: string): KernelRangeCopier | undefined {
    const lib = libc();
    if (lib === null || lib.copy_file_range === null) return undefined;
    const fd = openDescriptor(lib, path, O_WRONLY | O_NOFOLLOW, "write");
    if (fd < 0) return undefined;
    if (!isSameFile(lib, fd, file.statSync())) {
      lib.close(fd);
      return undefined;
    }
    return new KernelRangeCopier(lib, lib.copy_file_range, fd);
  }

  copyRange(source: RandomAccessSource, from: number, to: number, length: number): number {
    // A closed source copies nothing, here as in user space, which says why.
    if (length === 0 || (source instanceof FileSource && source.closed)) return 0;
    const fd = this.#sourceDescriptor(source);
    if (fd === REFUSED) return 0;
    this.#in[0] = BigInt(from);
    this.#out[0] = BigInt(to);
    const copied = Number(this.#copy(fd, this.#in, this.#target, this.#out, BigInt(length), 0));
    if (copied > 0) return copied;
    // 0 is the end of the source (shorter than its directory says); the
    // user-space copy says so. Anything else is a refusal of this source.
    if (copied < 0) this.#refuse(source);
    return 0;
  }

  /** Closes every descriptor it opened. */
  close(): void {
    for (const fd of this.#sources.values()) if (fd !== REFUSED) this.#libc.close(fd);
    this.#sources.clear();
    if (this.#target >= 0) this.#libc.close(this.#target);
    this.#target = -1;
  }

  /** The source's own descriptor: the file it opened, not whatever its path names now. */
  #sourceDescriptor(source: RandomAccessSource): number {
    let fd = this.#sources.get(source);
    if (fd !== undefined) return fd;
    fd = REFUSED;
    if (source instanceof FileSource && this.#target >= 0) {
      fd = openDescriptor(this.#libc, source.realPath, O_RDONLY | O_NOFOLLOW, "read");
      if (fd >= 0 && !isSameFile(this.#libc, fd, source.opened)) {
        this.#libc.close(fd);
        fd = REFUSED;
      }
      if (fd < 0) fd = REFUSED;
    }
    this.#sources.set(source, fd);
    return fd;
  }

  #refuse(source: RandomAccessSource): void {
    const fd = this.#sources.get(source);
    if (fd !== undefined && fd !== REFUSED) this.#libc.close(fd);
    this.#sources.set(source, REFUSED);
  }
}
