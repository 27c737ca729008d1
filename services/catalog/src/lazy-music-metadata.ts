// music-metadata's parseFile, loaded with the first file whose tags or embedded picture are read: with its tokenizers
// and file-type sniffing it is a third of the code `soundmesh scan` would load, and a rescan that finds nothing new
// never reads a tag.
import type * as MusicMetadata from "music-metadata";

let loading: Promise<typeof MusicMetadata> | undefined;

export const parseFile: typeof MusicMetadata.parseFile = async (...args) =>
  (await (loading ??= import("music-metadata"))).parseFile(...args);
