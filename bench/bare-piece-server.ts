// The yardstick for the piece route: a bare Node HTTP server that streams the same bytes from the same rendition
// files (fs.createReadStream of the piece's range piped to the socket, as close to sendfile as Node gets), with no
// authentication, routing library or checks. GET /<rendition key>/<piece index>, and GET /<rendition key>/manifest
// (the rendition's manifest.json, read once and then sent from memory); prints its port on stdout. An optional third
// argument, a JSON object of headers, is sent with every piece as well (the headers soundmesh sends: what they cost
// the client, apart from the server's path).
import { readFile, stat } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

const [cacheDir, pieceSizeArg, headersArg] = process.argv.slice(2);
if (!cacheDir || !pieceSizeArg)
  throw new Error("usage: bare-piece-server <rendition cache dir> <piece size> [headers as JSON]");
const extraHeaders = JSON.parse(headersArg ?? "{}") as Record<string, string>;
const pieceSize = Number(pieceSizeArg);
const sizes = new Map<string, number>();
const manifests = new Map<string, Buffer>();

const server = createServer((request, response) => {
  void (async () => {
    const manifestOf = /^\/([0-9a-f]{32})\/manifest$/.exec(request.url ?? "");
    if (manifestOf) {
      const path = join(cacheDir, manifestOf[1]!, "manifest.json");
      let json = manifests.get(path);
      if (json === undefined) {
        json = await readFile(path);
        manifests.set(path, json);
      }
      response.writeHead(200, { "content-type": "application/json", "content-length": json.byteLength });
      response.end(json);
      return;
    }
    const match = /^\/([0-9a-f]{32})\/(\d+)$/.exec(request.url ?? "");
    if (!match) {
      response.writeHead(404).end();
      return;
    }
    const path = join(cacheDir, match[1]!, "data");
    let size = sizes.get(path);
    if (size === undefined) {
      size = (await stat(path)).size;
      sizes.set(path, size);
    }
    const start = Number(match[2]) * pieceSize;
    const end = Math.min(size, start + pieceSize) - 1;
    response.writeHead(200, {
      ...extraHeaders,
      "content-type": "application/octet-stream",
      "content-length": end - start + 1,
    });
    await pipeline(createReadStream(path, { start, end }), response);
  })().catch(() => response.destroy());
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(typeof address === "object" && address ? address.port : 0);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
