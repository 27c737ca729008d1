import { describe, expect, it } from "vitest";
import { AppError } from "@soundmesh/protocol";
import { whenJetStreamReady } from "../src/jetstream-ready";

describe("whenJetStreamReady", () => {
  it("asks again until JetStream answers, and says once that it waits", async () => {
    let tries = 0;
    const waits: unknown[] = [];
    const value = await whenJetStreamReady(
      "creating a stream",
      () => {
        tries += 1;
        return tries < 3
          ? Promise.reject(new Error("no suitable peers for placement"))
          : Promise.resolve("made");
      },
      { retryMs: 1, onWait: (error) => waits.push(error) },
    );
    expect(value).toBe("made");
    expect(tries).toBe(3);
    expect(waits).toHaveLength(1);
    expect(String(waits[0])).toContain("no suitable peers");
  });

  it("gives up after its wait with UNAVAILABLE naming what it waited for, the last failure as the cause", async () => {
    const failure = new Error("no suitable peers for placement");
    const error = await whenJetStreamReady("creating the event stream", () => Promise.reject(failure), {
      waitMs: 20,
      retryMs: 1,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("UNAVAILABLE");
    expect((error as AppError).message).toBe("creating the event stream failed for 0.02 s on NATS");
    expect((error as AppError).cause).toBe(failure);
  });
});
