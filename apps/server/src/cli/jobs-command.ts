// `soundmesh jobs`: lists the jobs and their latest runs with state; `soundmesh jobs run <name> --param day=…` runs
// one (after what it needs, unless its output exists) with a progress bar. The runner loads only when it runs.
import type { Command } from "commander";
import type { GlobalOptions } from "./config-from";

export function addJobsCommand(program: Command): void {
  const jobs = program
    .command("jobs")
    .description("the job runner: list the jobs and their latest runs; `jobs run <name>` runs one")
    .option("-n, --limit <n>", "how many runs to list", "20")
    .action(async (options: { limit: string }, command: Command) => {
      const { listJobs } = await import("./jobs-run");
      await listJobs(command.optsWithGlobals<GlobalOptions>(), Math.max(1, Number(options.limit) || 20));
    });
  jobs
    .command("run <name>")
    .description("run a job (after what it needs) unless its output exists, with a progress bar")
    .option("-p, --param <name=value...>", "the job's parameters, e.g. day=2026-12-03", [])
    .action(async (name: string, options: { param: string[] }, command: Command) => {
      const { runJob } = await import("./jobs-run");
      await runJob(command.optsWithGlobals<GlobalOptions>(), name, options.param);
    });
}
