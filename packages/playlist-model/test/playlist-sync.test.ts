// PlaylistSync over a scripted connection: retries with back-off, offline queues kept until reconnected (by itself
// when the connection says it opened again), gaps in pushes filled from changesSince, members refreshed, a lost
// playlist reported.
import { afterEach, describe, expect, it, vi } from "vitest";
import type {
  PlaylistChange,
  PlaylistRevision,
  PlaylistSnapshot,
  SubmittedOperation,
} from "@soundmesh/protocol";
import { PlaylistSync, type PlaylistConnection } from "@soundmesh/playlist-model";
import { snapshotOf } from "./snapshots";

const snapshot = (revision = 0): PlaylistSnapshot => snapshotOf([], revision);

const failure = (code: string) => Object.assign(new Error(code), { code });

/** A server in a few lines: revisions in order, scripted failures for the next requests of a method. */
class ScriptedConnection implements PlaylistConnection {
  readonly revisions: PlaylistRevision[] = [];
  readonly failures = new Map<string, string[]>();
  readonly calls: string[] = [];
  push: ((data: unknown) => void) | undefined;
  info = snapshot().playlist;

  readonly call = ((contract: { service: string }, method: string, params: unknown) =>
    this.request(`${contract.service}.${method}`, params)) as PlaylistConnection["call"];

  private request(method: string, params: unknown): Promise<unknown> {
    this.calls.push(method);
    const code = this.failures.get(method)?.shift();
    if (code) return Promise.reject(failure(code));
    switch (method) {
      case "playlist.get":
        return Promise.resolve({
          ...snapshot(this.revisions.length),
          playlist: { ...this.info, revision: this.revisions.length },
        });
      case "playlist.changesSince": {
        const { revision } = params as { revision: number };
        return Promise.resolve({
          kind: "revisions",
          revision: this.revisions.length,
          revisions: this.revisions.slice(revision),
        });
      }
      case "playlist.edit": {
        const { operations } = params as { operations: SubmittedOperation[] };
        const applied = operations.map((op) => this.apply(op));
        return Promise.resolve({ revision: this.revisions.length, applied });
      }
      default:
        return Promise.reject(failure("UNKNOWN_METHOD"));
    }
  }

  readonly subscribe = ((_topic: unknown, onPush: (data: unknown) => void) => {
    this.push = onPush;
    return () => (this.push = undefined);
  }) as PlaylistConnection["subscribe"];

  readonly follow = ((topic: never, onPush: never) =>
    Promise.resolve(this.subscribe(topic, onPush))) as PlaylistConnection["follow"];

  readonly state: PlaylistConnection["state"] = "open";

  apply(op: SubmittedOperation, author = "u1"): PlaylistRevision {
    const revision = {
      revision: this.revisions.length + 1,
      opId: op.opId,
      author,
      at: 5,
      operation: op.operation,
    };
    this.revisions.push(revision);
    return revision;
  }

  change(revisions: PlaylistRevision[], extra: Partial<PlaylistChange> = {}): PlaylistChange {
    return {
      playlistId: "playlist1",
      revision: this.revisions.length,
      revisions,
      membersChanged: false,
      deleted: false,
      audience: null,
      listsChanged: [],
      ...extra,
    };
  }
}

/** One that tells of its state changes, as the session client does (to the same access point or another). */
class ReopeningConnection extends ScriptedConnection {
  readonly stateListeners = new Set<(state: PlaylistConnection["state"]) => void>();
  readonly onStateChange: NonNullable<PlaylistConnection["onStateChange"]> = (listener) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };

  reopen(): void {
    for (const state of ["reconnecting", "open"] as const)
      for (const listener of [...this.stateListeners]) listener(state);
  }
}

describe("PlaylistSync", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("retries a rate-limited batch after a back-off; keeps offline edits until reconnected", async () => {
    vi.useFakeTimers();
    const connection = new ScriptedConnection();
    const sync = await PlaylistSync.open(connection, "playlist1");
    connection.failures.set("playlist.edit", ["RATE_LIMITED"]);
    sync.model.append(["t1"]);
    await vi.advanceTimersByTimeAsync(0);
    expect(sync.model.pending).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sync.model.pending).toHaveLength(0);
    expect(sync.model.revision).toBe(1);

    connection.failures.set("playlist.edit", ["UNAVAILABLE"]);
    sync.model.append(["t2"]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sync.model.pending).toHaveLength(1);
    expect(connection.calls.filter((call) => call === "playlist.edit")).toHaveLength(3);
    // Someone else edited meanwhile; back online, the missed revision comes first, then the queue goes out.
    connection.apply({ opId: "theirs001", operation: { type: "rename", name: "Theirs" } }, "u2");
    await sync.reconnected();
    expect(sync.model.pending).toHaveLength(0);
    expect(sync.model.revision).toBe(3);
    expect(sync.model.items.map((item) => item.trackId)).toEqual(["t1", "t2"]);
    expect(sync.model.meta.name).toBe("Theirs");
    sync.close();
  });

  it("catches up, then sends its queue, by itself each time the connection opens again, until it is closed", async () => {
    const connection = new ReopeningConnection();
    const sync = await PlaylistSync.open(connection, "playlist1");
    connection.failures.set("playlist.edit", ["UNAVAILABLE"]);
    sync.model.append(["t1"]);
    await vi.waitFor(() => expect(connection.calls).toContain("playlist.edit"));
    expect(sync.model.pending).toHaveLength(1);
    connection.apply({ opId: "theirs001", operation: { type: "rename", name: "Theirs" } }, "u2");
    const before = connection.calls.length;
    connection.reopen();
    await vi.waitFor(() => expect(sync.model.pending).toHaveLength(0));
    expect(connection.calls.slice(before)).toEqual(["playlist.changesSince", "playlist.edit"]);
    expect(sync.model.revision).toBe(2);
    expect(sync.model.meta.name).toBe("Theirs");
    sync.close();
    expect(connection.stateListeners.size).toBe(0);
  });

  it("fills a gap in the pushes from changesSince and ignores pushes already applied", async () => {
    const connection = new ScriptedConnection();
    const sync = await PlaylistSync.open(connection, "playlist1");
    const first = connection.apply({ opId: "remote001", operation: { type: "rename", name: "One" } }, "u2");
    const second = connection.apply(
      {
        opId: "remote002",
        operation: { type: "insert", afterItemId: null, items: [{ itemId: "item0001", trackId: "t9" }] },
      },
      "u2",
    );
    connection.push!(connection.change([second]));
    await vi.waitFor(() => expect(sync.model.revision).toBe(2));
    connection.push!(connection.change([first]));
    expect(sync.model.revision).toBe(2);
    expect(sync.model.items.map((item) => item.trackId)).toEqual(["t9"]);
    expect(sync.model.meta.name).toBe("One");
    sync.close();
  });

  it("refreshes members on a members-changed push, and reports a playlist it can no longer see", async () => {
    const connection = new ScriptedConnection();
    const sync = await PlaylistSync.open(connection, "playlist1");
    connection.info = { ...connection.info, collaborators: [{ id: "u2", name: "bob" }] };
    connection.push!(connection.change([], { membersChanged: true }));
    await vi.waitFor(() => expect(sync.model.info.collaborators).toEqual([{ id: "u2", name: "bob" }]));
    connection.failures.set("playlist.get", ["NOT_FOUND"]);
    connection.push!(connection.change([], { membersChanged: true }));
    await vi.waitFor(() => expect(sync.isDeleted).toBe(true));
    sync.close();
  });
});
