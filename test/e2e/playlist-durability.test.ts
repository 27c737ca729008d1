// An acknowledged playlist edit survives kill -9 of the server: the all-in-one process is killed right after the
// acknowledgement and restarted on the same data dir (SQLite) or database (PostgreSQL, when one runs).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WsClient, isPgAvailable, pgTestDatabase, setupAdmin } from "@soundmesh/test-kit";
import { spawnServer } from "@soundmesh/test-kit/server";
import { playlistContract } from "@soundmesh/protocol";

const databases = (await isPgAvailable()) ? ["sqlite", "postgres"] : ["sqlite"];
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe.each(databases)("playlist durability on %s", (database) => {
  it("keeps an edit acknowledged just before kill -9, with its revision", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-playlist-kill-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env: Record<string, string> = {};
    if (database === "postgres") {
      const pg = (await pgTestDatabase())!;
      cleanups.push(() => pg.drop());
      env.SOUNDMESH_DATABASE_URL = pg.url;
    }
    const first = await spawnServer(dataDir, env);
    const token = await setupAdmin(first.url, "admin", "correct horse battery");
    const ws = await WsClient.connect(first.url, token);
    const created = await ws.call(playlistContract, "create", {
      name: "Keep me",
      trackIds: ["t1"],
    });
    const playlistId = created.playlist.id;
    const acknowledged = await ws.call(playlistContract, "edit", {
      playlistId,
      baseRevision: created.playlist.revision,
      operations: [
        {
          opId: "survivor-op-1",
          operation: {
            type: "insert",
            afterItemId: "end",
            items: [{ itemId: "survivor-item", trackId: "t2" }],
          },
        },
        { opId: "survivor-op-2", operation: { type: "rename", name: "Kept" } },
      ],
    });
    first.process.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");

    const second = await spawnServer(dataDir, env);
    try {
      const again = await WsClient.connect(second.url, token);
      const stored = await again.call(playlistContract, "get", { playlistId });
      expect(stored.playlist).toMatchObject({ name: "Kept", revision: acknowledged.revision, itemCount: 2 });
      expect(stored.items.map((item) => item.itemId)).toContain("survivor-item");
      // Resending the acknowledged operation (a client that never saw the answer) does not apply it twice.
      const resent = await again.call(playlistContract, "edit", {
        playlistId,
        baseRevision: 0,
        operations: [
          {
            opId: "survivor-op-1",
            operation: {
              type: "insert",
              afterItemId: "end",
              items: [{ itemId: "survivor-item", trackId: "t2" }],
            },
          },
        ],
      });
      expect(resent.revision).toBe(acknowledged.revision);
      await again.close();
    } finally {
      second.process.kill("SIGTERM");
      await second.exited;
    }
  }, 60_000);
});
