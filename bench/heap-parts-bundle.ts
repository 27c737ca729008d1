// Bundles bench/heap-parts.ts with the server's own esbuild settings, so the heap by part is that of built code (as
// `soundmesh serve` runs), not of tsx compiling at run time. Written under bench/results/ so node_modules resolve.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { esbuildOptions } from "../apps/server/bin/build.mjs";

export async function bundleHeapParts(): Promise<string> {
  const esbuild = await import("esbuild");
  const outdir = fileURLToPath(new URL("./results/heap-parts-build", import.meta.url));
  await esbuild.build({
    ...esbuildOptions(),
    entryPoints: { "heap-parts": fileURLToPath(new URL("./heap-parts.ts", import.meta.url)) },
    outdir,
    write: true,
    metafile: false,
  });
  return join(outdir, "heap-parts.js");
}
