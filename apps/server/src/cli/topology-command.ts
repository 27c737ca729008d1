// `soundmesh topology expected`: the topology the code declares (manifests and infrastructure), as text, DOT or
// JSON. Loads the services' manifests only when it runs.
import { Option, type Command } from "commander";

export function addTopologyCommand(program: Command): void {
  const topology = program
    .command("topology")
    .description("the service topology: what the manifests declare (the live one is on the admin page)");
  topology
    .command("expected")
    .description("print the expected graph: service calls, events and infrastructure, with its version")
    .addOption(
      new Option("-f, --format <format>", "text, dot (Graphviz) or json")
        .choices(["text", "dot", "json"])
        .default("text"),
    )
    .action(async (options: { format: "text" | "dot" | "json" }) => {
      const [{ expectedTopology }, { expectedGraphDot, expectedGraphText }] = await Promise.all([
        import("../topology-declarations"),
        import("@soundmesh/service-topology"),
      ]);
      const graph = expectedTopology();
      process.stdout.write(
        options.format === "dot"
          ? expectedGraphDot(graph)
          : options.format === "json"
            ? `${JSON.stringify(graph, null, 2)}\n`
            : expectedGraphText(graph),
      );
    });
}
