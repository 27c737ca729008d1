// Administration → Jobs: the job runner's latest runs with their state and progress, followed live as the server
// pushes each change (events.jobProgress), and buttons to make yesterday's daily aggregates and radio index.
import { useEffect, useState } from "react";
import { eventsContract, pushTopics, type JobRun } from "@soundmesh/protocol";
import type { Connection } from "../connection";

const paramsText = (params: Record<string, string>) =>
  Object.entries(params)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");

export function JobsPanel({ connection }: { connection: Connection }) {
  const [jobs, setJobs] = useState<Array<{ name: string }>>([]);
  const [runs, setRuns] = useState<JobRun[]>([]);
  const [message, setMessage] = useState("");
  useEffect(() => {
    void connection.call(eventsContract, "jobs", { limit: 20 }).then(
      (result) => {
        setJobs(result.jobs);
        setRuns(result.runs);
      },
      (e: Error) => setMessage(e.message),
    );
    return connection.subscribe(pushTopics.jobProgress, (run) => {
      setRuns((current) => [run, ...current.filter((r) => r.id !== run.id)].slice(0, 20));
    });
  }, [connection]);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const runForYesterday = (name: string) =>
    void connection.call(eventsContract, "runJob", { name, params: { day: yesterday } }).then(
      (run) => setMessage(run ? `${name} ${yesterday}: ${run.state}` : "Its output exists already."),
      (e: Error) => setMessage(e.message),
    );
  return (
    <>
      <h3>Jobs</h3>
      <p className="muted">
        A job is done when its output exists; it runs what it needs first. Known:{" "}
        {jobs.map((j) => j.name).join(", ")}.
      </p>
      <div className="actions">
        <button className="secondary" onClick={() => runForYesterday("daily-aggregates")}>
          Daily aggregates of {yesterday}
        </button>
        {jobs.some((job) => job.name === "rebuild-recommendation-index") && (
          <button className="secondary" onClick={() => runForYesterday("rebuild-recommendation-index")}>
            Radio index of {yesterday}
          </button>
        )}
      </div>
      <table className="jobs" data-testid="job-runs">
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-state={run.state}>
              <td>{run.job}</td>
              <td>{paramsText(run.params)}</td>
              <td>{run.state}</td>
              <td>
                <progress max={1} value={run.progress} /> {Math.round(run.progress * 100)}%
              </td>
              <td>{run.startedAt ? new Date(run.startedAt).toLocaleString() : ""}</td>
              <td>{run.error ?? run.note ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {message && <p role="status">{message}</p>}
    </>
  );
}
