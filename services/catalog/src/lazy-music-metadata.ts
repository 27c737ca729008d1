// music-metadata's parseFile, loaded with the first file whose tags or embedded picture are read: with its tokenizers
// and file-type sniffing it is a third of the code `soundmesh scan` would load, and a rescan that finds nothing new
// never reads a tag.
import type * as MusicMetadata from "music-metadata";
import type * as EndsTokenizer from "./ends-tokenizer";

let loading: Promise<typeof MusicMetadata> | undefined;
let loadingEnds: Promise<typeof EndsTokenizer> | undefined;

export const parseFile: typeof MusicMetadata.parseFile = async (...args) =>
  (await (loading ??= import("music-metadata"))).parseFile(...args);

/** The same parse from the ends of the file a scan has read (ends-tokenizer.ts), loaded as lazily. */
export const parseFileEnds: typeof EndsTokenizer.parseFileEnds = async (...args) =>
  (await (loadingEnds ??= import("./ends-tokenizer"))).parseFileEnds(...args);
