// Administration → Jobs: the latest runs, followed live as the server pushes each change, and running a job.
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { AppError, eventsContract, pushTopics, type JobRun } from "@soundmesh/protocol";
import { JobsPanel } from "../src/components/jobs-panel";
import { SessionWire } from "./session-wire";

const run = (id: string, change: Partial<JobRun> = {}): JobRun => ({
  id,
  job: "daily-aggregates",
  params: { day: "2026-12-01" },
  state: "done",
  progress: 1,
  note: null,
  error: null,
  createdAt: 1_700_000_000_000,
  startedAt: null,
  finishedAt: null,
  runner: "server",
  ...change,
});

const rows = () => within(screen.getByTestId("job-runs")).queryAllByRole("row");

describe("jobs panel", () => {
  it("lists the known jobs and the latest runs with state and progress", async () => {
    const wire = new SessionWire().answer(eventsContract, "jobs", () => ({
      jobs: [
        { name: "daily-aggregates", description: "", params: ["day"] },
        { name: "radio-rebuild", description: "", params: [] },
      ],
      runs: [run("r2", { state: "failed", progress: 0.4, error: "disk full" }), run("r1")],
    }));
    render(<JobsPanel connection={wire.client()} />);
    await screen.findByText(/Known: daily-aggregates, radio-rebuild\./);
    expect(rows().map((row) => row.getAttribute("data-state"))).toEqual(["failed", "done"]);
    expect(rows()[0]!.textContent).toContain("day=2026-12-01");
    expect(rows()[0]!.textContent).toContain("40%");
    expect(rows()[0]!.textContent).toContain("disk full");
    expect(wire.paramsOf(eventsContract, "jobs")).toEqual([{ limit: 20 }]);
  });

  it("follows pushed progress: a run moves to the top and changes in place", async () => {
    const wire = new SessionWire().answer(eventsContract, "jobs", () => ({ jobs: [], runs: [run("r1")] }));
    render(<JobsPanel connection={wire.client()} />);
    await waitFor(() => expect(rows()).toHaveLength(1));
    await waitFor(() => expect(wire.followers(pushTopics.jobProgress)).toBe(1));
    act(() => wire.push(pushTopics.jobProgress, run("r9", { state: "running", progress: 0.25 })));
    await waitFor(() =>
      expect(rows().map((row) => row.getAttribute("data-state"))).toEqual(["running", "done"]),
    );
    expect(rows()[0]!.textContent).toContain("25%");
    act(() => wire.push(pushTopics.jobProgress, run("r9", { state: "done", progress: 1 })));
    await waitFor(() => expect(rows()[0]!.textContent).toContain("100%"));
    expect(rows()).toHaveLength(2);
  });

  it("runs the daily aggregates and says how it went, or why it could not", async () => {
    let refuse = false;
    const wire = new SessionWire()
      .answer(eventsContract, "jobs", () => ({ jobs: [], runs: [] }))
      .answer(eventsContract, "runJob", ({ params }) => {
        if (refuse) throw new AppError("FORBIDDEN", "Administrators only");
        return run("r5", { params, state: "done" });
      });
    render(<JobsPanel connection={wire.client()} />);
    const button = await screen.findByRole("button", { name: /Daily aggregates of \d{4}-\d\d-\d\d/ });
    fireEvent.click(button);
    expect((await screen.findByRole("status")).textContent).toMatch(
      /^daily-aggregates \d{4}-\d\d-\d\d: done$/,
    );
    const day = wire.paramsOf(eventsContract, "runJob")[0]!.params?.day;
    expect(button.textContent).toBe(`Daily aggregates of ${day}`);
    refuse = true;
    fireEvent.click(button);
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("Administrators only"));
  });
});
