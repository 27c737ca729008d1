// Builds the web player into dist/, which the access point serves at "/"; the service worker is built to /sw.js.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
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
