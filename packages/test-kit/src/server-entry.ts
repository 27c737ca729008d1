// @soundmesh/test-kit/server: whole soundmesh servers for tests, in process or as a child process (loads the app).
export * from "./server";
export * from "./access-points-on-nats";
export * from "./cluster";
