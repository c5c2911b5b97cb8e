import assert from "node:assert/strict";
import { join } from "node:path";
import { readCentralDirectory } from "../lib/zip/central_directory.ts";
import { verifyEntryCrc } from "../lib/zip/read_entry.ts";
import { FileSource } from "../lib/zip/source.ts";
import { TorchZipWriter } from "../lib/zip/torch_zip_writer.ts";
import { zeroRecord } from "./_big_checkpoint.ts";

// Reference bytes of a 4 GiB torch 1.13 archive, made once with
//   torch.save({"a": torch.arange(3, dtype=torch.float32),
//               "big": torch.zeros(2**32 + 100, dtype=torch.uint8),
//               "c": torch.arange(5, dtype=torch.int32), "d": torch.zeros(0),
//               "e": torch.ones(7, dtype=torch.float64)}, "big1.ckpt")
// HEAD is bytes 0..768 (data.pkl, data/0 and the local header of the big
// data/1); TAIL is bytes 4294968164..end (data/1's descriptor, the records
// past 4 GiB, the central directory and the end records).
const HEAD =
  "UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAANABUAYmlnMS9kYXRhLnBrbEZCEQBaWlpaWlpaWlpaWlpaWlpaWoACfXEAKFgB" +
  "AAAAYXEBY3RvcmNoLl91dGlscwpfcmVidWlsZF90ZW5zb3JfdjIKcQIoKFgHAAAAc3RvcmFnZXEDY3RvcmNoCkZsb2F0U3Rv" +
  "cmFnZQpxBFgBAAAAMHEFWAMAAABjcHVxBksDdHEHUUsASwOFcQhLAYVxCYljY29sbGVjdGlvbnMKT3JkZXJlZERpY3QKcQop" +
  "UnELdHEMUnENWAMAAABiaWdxDmgCKChoA2N0b3JjaApCeXRlU3RvcmFnZQpxD1gBAAAAMXEQaAaKBWQAAAABdHERUUsAigVk" +
  "AAAAAYVxEksBhXETiWgKKVJxFHRxFVJxFlgBAAAAY3EXaAIoKGgDY3RvcmNoCkludFN0b3JhZ2UKcRhYAQAAADJxGWgGSwV0" +
  "cRpRSwBLBYVxG0sBhXEciWgKKVJxHXRxHlJxH1gBAAAAZHEgaAIoKGgDaARYAQAAADNxIWgGSwB0cSJRSwBLAIVxI0sBhXEk" +
  "iWgKKVJxJXRxJlJxJ1gBAAAAZXEoaAIoKGgDY3RvcmNoCkRvdWJsZVN0b3JhZ2UKcSlYAQAAADRxKmgGSwd0cStRSwBLB4Vx" +
  "LEsBhXEtiWgKKVJxLnRxL1JxMHUuUEsHCBsADV/NAQAAzQEAAFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAACwA6AGJpZzEv" +
  "ZGF0YS8wRkI2AFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWgAAAAAAAIA/" +
  "AAAAQFBLBwhwvMgwDAAAAAwAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAAAsAOwBiaWcxL2RhdGEvMQEAEABkAAAAAQAA" +
  "AAAAAAAAAAAARkIjAFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa";
const TAIL =
  "UEsHCOVMKqlkAAAAAQAAAGQAAAABAAAAUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAALABsAYmlnMS9kYXRhLzIBAAgAfAMA" +
  "AAEAAABGQgsAWlpaWlpaWlpaWloAAAAAAQAAAAIAAAADAAAABAAAAFBLBwg3BGtMFAAAAAAAAAAUAAAAAAAAAFBLAwQAAAAI" +
  "AAAAAAAAAAAAAAAAAAAAAAAACwArAGJpZzEvZGF0YS8zAQAIAOwDAAABAAAARkIbAFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa" +
  "WlpaWlBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAACwAXAGJpZzEvZGF0YS80AQAIAEAEAAABAAAARkIHAFpaWlpaWloAAAAA" +
  "AADwPwAAAAAAAPA/AAAAAAAA8D8AAAAAAADwPwAAAAAAAPA/AAAAAAAA8D8AAAAAAADwP1BLBwjMicmcOAAAAAAAAAA4AAAA" +
  "AAAAAFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAADABGAGJpZzEvdmVyc2lvbgEACADQBAAAAQAAAEZCNgBaWlpaWlpaWlpa" +
  "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlozClBLBwjRnmdVAgAAAAAAAAACAAAAAAAAAFBL" +
  "AQIAAAAACAgAAAAAAAAbAA1fzQEAAM0BAAANAAAAAAAAAAAAAAAAAAAAAABiaWcxL2RhdGEucGtsUEsBAgAAAAAICAAAAAAA" +
  "AHC8yDAMAAAADAAAAAsAAAAAAAAAAAAAAAAAHQIAAGJpZzEvZGF0YS8wUEsBAgAAAAAICAAAAAAAAOVMKqn//////////wsA" +
  "FAAAAAAAAAAAAAAAnAIAAGJpZzEvZGF0YS8xAQAQAGQAAAABAAAAZAAAAAEAAABQSwECAAAAAAgIAAAAAAAANwRrTBQAAAAU" +
  "AAAACwAMAAAAAAAAAAAAAAD/////YmlnMS9kYXRhLzIBAAgAfAMAAAEAAABQSwECAAAAAAAIAAAAAAAAAAAAAAAAAAAAAAAA" +
  "CwAMAAAAAAAAAAAAAAD/////YmlnMS9kYXRhLzMBAAgA7AMAAAEAAABQSwECAAAAAAgIAAAAAAAAzInJnDgAAAA4AAAACwAM" +
  "AAAAAAAAAAAAAAD/////YmlnMS9kYXRhLzQBAAgAQAQAAAEAAABQSwECAAAAAAgIAAAAAAAA0Z5nVQIAAAACAAAADAAMAAAA" +
  "AAAAAAAAAAD/////YmlnMS92ZXJzaW9uAQAIANAEAAABAAAAUEsGBiwAAAAAAAAAHgMtAAAAAAAAAAAABwAAAAAAAAAHAAAA" +
  "AAAAANYBAAAAAAAAWgUAAAEAAABQSwYHAAAAADAHAAABAAAAAQAAAFBLBQYAAAAABwAHANYBAAD/////AAA=";
const TAIL_OFFSET = 4294968164;
const FILE_SIZE = 4294969234;
const BIG_SIZE = 2 ** 32 + 100;
// zlib.crc32 of BIG_SIZE zero bytes.
const BIG_CRC = 0xa92a4ce5;

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

Deno.test("TorchZipWriter writes ZIP64 records past 4 GiB like torch (slow, ~4 GiB temp file)", async () => {
  const head = fromBase64(HEAD);
  const tail = fromBase64(TAIL);
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-zip64-" });
  try {
    // A sparse file of zeros stands in for the big storage.
    const { source: zeros, entry: bigEntry } = await zeroRecord(
      join(dir, "zeros.bin"),
      BIG_SIZE,
      BIG_CRC,
    );
    const outPath = join(dir, "big1.ckpt");
    const file = await Deno.open(outPath, { read: true, write: true, create: true });
    try {
      const writer = await TorchZipWriter.create(file, { archiveName: "big1" });
      await writer.writeRecord("data.pkl", head.subarray(64, 64 + 461));
      await writer.writeRecord("data/0", bytesOf(new Float32Array([0, 1, 2])));
      await writer.copyRecord("data/1", zeros, bigEntry);
      await writer.writeRecord("data/2", bytesOf(new Int32Array([0, 1, 2, 3, 4])));
      await writer.writeRecord("data/3", new Uint8Array());
      await writer.writeRecord("data/4", bytesOf(new Float64Array(7).fill(1)));
      await writer.writeRecord("version", new TextEncoder().encode("3\n"));
      await writer.finish();
      assert.deepEqual(
        writer.records.map((r) => [r.name, r.offset, r.dataOffset, r.size]),
        [
          ["data.pkl", 0, 64, 461],
          ["data/0", 541, 640, 12],
          ["data/1", 668, 768, BIG_SIZE],
          ["data/2", 4294968188, 4294968256, 20],
          ["data/3", 4294968300, 4294968384, 0],
          ["data/4", 4294968384, 4294968448, 56],
          ["version", 4294968528, 4294968640, 2],
        ],
      );
    } finally {
      file.close();
      zeros.close();
    }

    const source = await FileSource.open(outPath);
    try {
      assert.equal(source.size, FILE_SIZE);
      assert.deepEqual(await source.read(0, head.length), head, "head bytes match torch");
      assert.deepEqual(await source.read(TAIL_OFFSET, tail.length), tail, "tail bytes match torch");

      const directory = await readCentralDirectory(source);
      assert.equal(directory.zip64, true);
      assert.equal(directory.centralDirectoryOffset, 4294968666);
      const [pkl, small, big, after, empty, last, version] = directory.entries;
      assert.equal(pkl.dataOffset, 64);
      assert.equal(small.dataOffset, 640);
      assert.equal(big.size, BIG_SIZE);
      assert.equal(big.compressedSize, BIG_SIZE);
      assert.equal(big.localHeaderOffset, 668);
      assert.equal(big.dataOffset, 768);
      assert.equal(after.localHeaderOffset, 4294968188);
      assert.equal(after.dataOffset, 4294968256);
      assert.equal(empty.size, 0);
      assert.equal(empty.flags, 0x0800);
      assert.equal(last.dataOffset % 64, 0);
      assert.equal(version.localHeaderOffset, 4294968528);
      for (const entry of [pkl, small, after, empty, last, version]) {
        assert.equal(await verifyEntryCrc(source, entry), true, entry.name);
      }
      // Streams all 4 GiB through crc32 and checks it against zlib's value.
      assert.equal(await verifyEntryCrc(source, big), true);
    } finally {
      source.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
