// Types of code-cache.mjs, for its test.
export declare function cacheFileFor(cacheDir: string, source: string, variant?: string): string;
export declare function commandWords(args: string[]): string;
export declare function loadWithCodeCache(
  bundlePath: string,
  cacheDir?: string,
  variant?: string,
): { exports: Record<string, unknown>; cacheUsed: boolean; cacheFile: string; save(): void };
export declare const commandBundles: Record<string, { eager: string[]; lazy: string[] }>;
export declare function commandBundleFor(command: string | undefined): string | undefined;
