// Types of build.mjs, for the tests' global setup and the start-up benchmark.
import type { BuildOptions, Metafile } from "esbuild";

export declare const distDir: string;
export declare const distEntry: string;
export declare function esbuildOptions(): BuildOptions;
export declare function buildServer(): Promise<{
  durationMs: number;
  chunks: number;
  bytes: number;
  metafile: Metafile;
}>;
