import { spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { waitUntil } from "@soundmesh/test-kit";
import { decodeProcAddress, parseProcNetTcp, sampleSockets } from "@soundmesh/service-topology";

const tcp4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1E14 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:1538 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C351 0100007F:1538 06 00000000:00000000 00:00000000 00000000  1000        0 0 1 0000000000000000 20 4 30 10 -1
garbage line
`;
const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 778 1 0000000000000000 20 4 30 10 -1
`;

describe("the network sample", () => {
  it("decodes /proc/net/tcp and tcp6 addresses, keeping listening and established sockets", () => {
    expect(parseProcNetTcp(tcp4)).toEqual([
      { local: "127.0.0.1:7700", remote: "0.0.0.0:0", state: "listen", inode: "4242" },
      { local: "127.0.0.1:50000", remote: "127.0.0.1:5432", state: "established", inode: "4343" },
    ]);
    expect(parseProcNetTcp(tcp6)).toEqual([
      { local: "[::1]:8080", remote: "[::]:0", state: "listen", inode: "777" },
      { local: "127.0.0.1:8080", remote: "127.0.0.1:54321", state: "established", inode: "778" },
    ]);
    expect(decodeProcAddress("B80D01200000000000000000010000FE:0050")).toBe("[2001:db8::fe00:1]:80");
  });

  it("finds another process's connection through its fd folder, and only that process's", async () => {
    const server = createServer((socket) => socket.on("error", () => undefined));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const child = spawn(
      process.execPath,
      [
        "-e",
        `require("net").connect(${port}, "127.0.0.1", () => console.log("up")); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const sockets = await waitUntil(
        () => sampleSockets(child.pid),
        (found) => found.some((s) => s.state === "established" && s.remote === `127.0.0.1:${port}`),
      );
      expect(sockets.some((s) => s.state === "listen")).toBe(false);
      const own = await sampleSockets();
      expect(own).toContainEqual({ local: `127.0.0.1:${port}`, remote: "0.0.0.0:0", state: "listen" });
      expect(own.some((s) => s.remote === `127.0.0.1:${port}`)).toBe(false);
    } finally {
      child.kill();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
