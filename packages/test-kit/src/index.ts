// Public entry of @soundmesh/test-kit: servers for tests, a typed WebSocket client, fixtures and database helpers.
export * from "./server";
export * from "./ws-client";
export * from "./nats";
export * from "./postgres";
export * from "./db-targets";
export * from "./fixture-library";
export * from "./wait";
export * from "./chromium";
export * from "./tone";
export * from "./wav";
