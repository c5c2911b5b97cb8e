// Where checkpoints come from: a local file, or an http(s) URL read with
// range requests.
import { HttpSource } from "./http_source.ts";
import { FileSource, type RandomAccessSource } from "./source.ts";

/**
 * Opens `path`: an `http://` or `https://` URL as an {@linkcode HttpSource}
 * (each request bounded by `timeoutMs`), else a file.
 */
export async function openSource(
  path: string,
  options: { timeoutMs?: number } = {},
): Promise<RandomAccessSource> {
  return /^https?:\/\//i.test(path)
    ? await HttpSource.open(path, options)
    : await FileSource.open(path);
}

/**
 * When to read local headers from `source`: on demand where each read is a
 * request, all at once for files (cheap, and opening then checks them all).
 */
export function localHeadersFor(source: RandomAccessSource): "all" | "on-demand" {
  return source instanceof HttpSource ? "on-demand" : "all";
}
