// Types of build-state.mjs, for its test.
export declare function staleness(distDir: URL, rootDir: URL): string | undefined;
