// Types of serve-launcher.mjs, for its test.
export declare const globalOptionsWithValue: Set<string>;
export declare function commandOf(args: readonly string[]): string | undefined;
export declare function shouldRelaunch(args: readonly string[], env: NodeJS.ProcessEnv): boolean;
export declare function runServeChild(bin: string, args: readonly string[]): Promise<number>;
export declare function followLauncher(): void;
