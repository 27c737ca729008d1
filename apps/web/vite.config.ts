// Builds the web player into dist/, which the access point serves at "/".
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
  server: { proxy: { "/api": "http://127.0.0.1:7700", "/ws": { target: "ws://127.0.0.1:7700", ws: true } } },
});
