// The light entry of @soundmesh/test-kit, for packages and services: temp databases, fixtures made with ffmpeg,
// PostgreSQL and NATS helpers, waits, a TCP proxy, and the session client for a server a test started elsewhere. It never loads
// the server app: whole-server tests import `@soundmesh/test-kit/server`, browser suites `@soundmesh/test-kit/browser`.
export * from "./nats";
export * from "./postgres";
export * from "./db-targets";
export * from "./fixture-library";
export * from "./wait";
export * from "./tone";
export * from "./wav";
export * from "./ws-client";
export * from "./http-session";
export * from "./tcp-proxy";
