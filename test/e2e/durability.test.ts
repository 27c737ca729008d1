// An acknowledged write survives kill -9 of the server: the all-in-one process is killed and restarted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WsClient, login, setupAdmin } from "@soundmesh/test-kit";
import { spawnServer } from "@soundmesh/test-kit/server";
import { userContract } from "@soundmesh/protocol";

const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-kill-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("durability", () => {
  it("keeps a user created and acknowledged just before kill -9", async () => {
    const first = await spawnServer(dataDir);
    const adminToken = await setupAdmin(first.url, "admin", "correct horse battery");
    const ws = await WsClient.connect(first.url, adminToken);
    await ws.call(userContract, "createUser", {
      name: "survivor",
      password: "survivor password",
      role: "user",
    });
    first.process.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");

    const second = await spawnServer(dataDir);
    try {
      const token = await login(second.url, "survivor", "survivor password");
      const me = await fetch(`${second.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(await me.json()).toMatchObject({ name: "survivor", role: "user" });
      // The admin's session, acknowledged before the kill, is still valid too.
      expect(
        (await fetch(`${second.url}/api/me`, { headers: { authorization: `Bearer ${adminToken}` } })).status,
      ).toBe(200);
    } finally {
      second.process.kill("SIGTERM");
      await second.exited;
    }
  }, 60_000);
});
