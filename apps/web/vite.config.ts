// Builds the web player into dist/, which the access point serves at "/"; the service worker is built to /sw.js,
// and every sizeable text asset gets .br and .gz siblings that the access point sends to browsers that accept them.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

/** Compressed once at build time, so no request ever pays for compression. */
const precompress: Plugin = {
  name: "soundmesh-precompress",
  apply: "build",
  writeBundle(options, bundle) {
    for (const file of Object.keys(bundle)) {
      if (!/\.(js|css|html|svg|json)$/.test(file) || !options.dir) continue;
      const path = join(options.dir, file);
      const bytes = readFileSync(path);
      if (bytes.byteLength < 1024) continue;
      writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
      writeFileSync(
        `${path}.br`,
        brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      );
    }
  },
};

export default defineConfig({
  base: "/",
  plugins: [precompress],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    rollupOptions: {
      input: { main: "index.html", sw: "src/service-worker.ts" },
      output: {
        // The worker's URL must be stable (it is registered by name); everything else is content-hashed.
        entryFileNames: (chunk) => (chunk.name === "sw" ? "sw.js" : "assets/[name]-[hash].js"),
      },
    },
  },
  server: { proxy: { "/api": "http://127.0.0.1:7700", "/ws": { target: "ws://127.0.0.1:7700", ws: true } } },
});
