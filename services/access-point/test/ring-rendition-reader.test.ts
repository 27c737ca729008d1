// The ring reader's rules over plain readers (the cluster e2e runs it over real storage nodes): the owner first,
// a failed node skipped for the next owner and then the origin, an answer about the request never retried elsewhere.
import { describe, expect, it } from "vitest";
import { AppError, type StreamManifest } from "@soundmesh/protocol";
import {
  renditionKey,
  ringRenditionReader,
  type RenditionReader,
  type RingRead,
} from "@soundmesh/service-access-point";

const listener = { userId: "u1" };

/** A reader that answers pieces as "<name>:<index>" or fails with `failWith`. */
function reader(name: string, asked: string[], failWith?: AppError): RenditionReader {
  const answer = <T>(value: T): Promise<T> => {
    asked.push(name);
    return failWith ? Promise.reject(failWith) : Promise.resolve(value);
  };
  return {
    manifest: (trackId, profile) => answer({ trackId, profile } as unknown as StreamManifest),
    piece: (_trackId, _profile, index) => answer({ bytes: new TextEncoder().encode(`${name}:${index}`) }),
    range: () => answer(new TextEncoder().encode(name)),
  };
}

function ringOf(failures: Record<string, AppError>) {
  const asked: string[] = [];
  const reads: RingRead[] = [];
  const owners: string[][] = [];
  const ring = ringRenditionReader({
    owners: (key) => {
      owners.push([key]);
      return ["n1", "n2"];
    },
    node: (node) => reader(node, asked, failures[node]),
    origin: reader("origin", asked, failures.origin),
    onRead: (read) => reads.push(read),
  });
  return { ring, asked, reads, owners };
}

const text = (piece: { bytes: Uint8Array }) => new TextDecoder().decode(piece.bytes);

describe("ring rendition reader", () => {
  it("reads from the owner, keyed by track, profile and offset", async () => {
    const { ring, asked, owners } = ringOf({});
    expect(text(await ring.piece("t1", "opus96", 3, listener))).toBe("n1:3");
    await ring.piece("t1", "opus96", 0, listener, 30_000);
    expect(asked).toEqual(["n1", "n1"]);
    expect(owners).toEqual([[renditionKey("t1", "opus96")], [renditionKey("t1", "opus96", 30_000)]]);
    expect(renditionKey("t1", "opus96", 30_000)).not.toBe(renditionKey("t1", "opus96"));
  });

  it("moves past a node that is down or failing to the replica, then to the origin", async () => {
    const down = ringOf({ n1: new AppError("UNAVAILABLE", "storage n1 is not running") });
    expect(text(await down.ring.piece("t1", "opus96", 1, listener))).toBe("n2:1");
    expect(down.reads[0]).toMatchObject({ source: "n2", misses: [{ node: "n1", reason: "UNAVAILABLE" }] });
    const bothDown = ringOf({ n1: new AppError("TIMEOUT"), n2: new AppError("INTERNAL") });
    expect(text(await bothDown.ring.piece("t1", "opus96", 1, listener))).toBe("origin:1");
    expect(bothDown.asked).toEqual(["n1", "n2", "origin"]);
  });

  it("answers a node's error about the request itself without asking anyone else", async () => {
    const { ring, asked } = ringOf({ n1: new AppError("NOT_FOUND", "no such track") });
    await expect(ring.manifest("gone", "opus96", listener)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(asked).toEqual(["n1"]);
  });

  it("fails with the origin's error when every node and the origin fail", async () => {
    const { ring } = ringOf({
      n1: new AppError("UNAVAILABLE"),
      n2: new AppError("UNAVAILABLE"),
      origin: new AppError("UNAVAILABLE", "storage is not running"),
    });
    await expect(ring.range("t1", "original", 0, 9, listener)).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
