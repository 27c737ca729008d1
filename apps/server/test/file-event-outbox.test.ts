// The headless peer's file outbox on its own: events are in the file before record() returns, survive a reopen,
// are retried with back-off while sending fails and sent once, the file is compacted once everything is
// acknowledged, and a torn last line (a crash mid-append) is cut off. The real peer and server are in
// test/e2e/headless-events.test.ts.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { uuidV7 } from "@soundmesh/engine";
import type { ListeningEvent } from "@soundmesh/protocol";
import { waitUntil } from "@soundmesh/test-kit";
import { FileEventOutbox, readOutbox } from "../src/cli/file-event-outbox";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function outboxPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "soundmesh-outbox-"));
  dirs.push(dir);
  return join(dir, "peer", "events-outbox.jsonl");
}

const started = (): ListeningEvent => ({
  v: 1,
  id: uuidV7(),
  at: Date.now(),
  trackId: "t1",
  type: "play.started",
});

/** A receiver that stores by id like the server (so duplicates show) and can be switched off. */
function receiver() {
  const received: string[] = [];
  const state = { up: false, attempts: 0 };
  return {
    received,
    state,
    submitter: {
      submit(events: ListeningEvent[]) {
        state.attempts += 1;
        if (!state.up) return Promise.reject(new Error("server down"));
        received.push(...events.map((event) => event.id));
        return Promise.resolve();
      },
    },
  };
}

describe("the file event outbox", () => {
  it("keeps events across a reopen while the server is down and sends each once when it is back", async () => {
    const path = outboxPath();
    const sink = receiver();
    const first = await FileEventOutbox.open({
      path,
      submitter: sink.submitter,
      minRetryMs: 10,
      maxRetryMs: 40,
    });
    const events = [started(), started(), started()];
    for (const event of events) await first.record(event);
    // In the file before record() resolved.
    expect((await readOutbox(path)).waiting.map((event) => event.id)).toEqual(
      events.map((event) => event.id),
    );
    await waitUntil(
      () => Promise.resolve(sink.state.attempts),
      (attempts) => attempts >= 3,
      10_000,
    );
    expect(await first.drain(0)).toBe(3);
    await first.close();

    sink.state.up = true;
    const second = await FileEventOutbox.open({ path, submitter: sink.submitter, minRetryMs: 10 });
    expect(second.pending).toBe(3);
    expect(await second.drain(10_000)).toBe(0);
    expect(sink.received).toEqual(events.map((event) => event.id));
    expect(readFileSync(path, "utf8")).toBe("");
    await second.close();

    // Nothing is sent again by a third run.
    const third = await FileEventOutbox.open({ path, submitter: sink.submitter });
    expect(third.pending).toBe(0);
    await third.close();
    expect(sink.received).toHaveLength(3);
  });

  it("compacts after many acknowledgements even while events wait", async () => {
    const path = outboxPath();
    const sink = receiver();
    sink.state.up = true;
    const outbox = await FileEventOutbox.open({ path, submitter: sink.submitter, compactAfterAcked: 2 });
    for (let i = 0; i < 5; i++) await outbox.record(started());
    expect(await outbox.drain(10_000)).toBe(0);
    expect(readFileSync(path, "utf8")).toBe("");
    expect(new Set(sink.received).size).toBe(5);
    await outbox.close();
  });

  it("cuts a torn last line and skips a malformed one, keeping every whole event", async () => {
    const path = outboxPath();
    const sink = receiver();
    const outbox = await FileEventOutbox.open({ path, submitter: sink.submitter, minRetryMs: 60_000 });
    const kept = started();
    await outbox.record(kept);
    await outbox.close();
    appendFileSync(path, "not json\n");
    appendFileSync(path, JSON.stringify({ k: "e", event: { ...started(), type: "nope" } }) + "\n");
    appendFileSync(path, '{"k":"e","event":{"v":1,"id":"torn');
    const { waiting } = await readOutbox(path);
    expect(waiting.map((event) => event.id)).toEqual([kept.id]);
    expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
  });

  it("refuses to record a malformed event", async () => {
    const path = outboxPath();
    const outbox = await FileEventOutbox.open({ path, submitter: receiver().submitter });
    await expect(outbox.record({ ...started(), at: -1 })).rejects.toMatchObject({ code: "BAD_EVENT" });
    expect(outbox.pending).toBe(0);
    await outbox.close();
  });
});
