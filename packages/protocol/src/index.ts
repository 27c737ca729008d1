// Public entry of @soundmesh/protocol: the wire contracts shared by server and clients.
export * from "./errors";
export * from "./frames";
export * from "./contract";
export * from "./user";
export * from "./stream";
export * from "./tracker";
export * from "./storage";
export * from "./catalog";
export * from "./search";
export * from "./playlist";
export * from "./topology";
export * from "./events";
export * from "./push-topics";
export * from "./recommend";
