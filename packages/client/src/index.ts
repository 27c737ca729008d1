// Public entry of @soundmesh/client: the one WebSocket session client of the browser, the CLI, tests and benches.
export * from "./session-client";
